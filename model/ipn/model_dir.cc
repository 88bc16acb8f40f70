#include "model/ipn/model_dir.h"

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {

absl::StatusOr<ModelDir> ModelDir::Open(const std::string& root) {
  const std::string config_file = root + "/" + kAdapterConfigName;
  if (!FileExists(config_file)) {
    return absl::NotFoundError(
        absl::StrCat(root, " is not an LMEye model directory: it has no ", kAdapterConfigName));
  }
  LMEYE_ASSIGN_OR_RETURN(IpnAdapterConfig config, ReadIpnAdapterConfig(config_file));
  return ModelDir(root, std::move(config));
}

}  // namespace lmeye
