#include "model/vision/clip_weights.h"

#include <vector>

#include "absl/strings/match.h"
#include "model/common/status_macros.h"
#include "model/io/module_loader.h"

namespace lmeye {

absl::Status LoadClipTowerWeights(torch::nn::Module& module, const Checkpoint& ckpt,
                                  const std::string& tower_prefix,
                                  const std::string& projection_key, at::ScalarType dtype) {
  LoadOptions options;
  options.prefix = "";
  options.dtype = dtype;
  options.strict_extra = true;
  for (const std::string& name : ckpt.names()) {
    if (!absl::StartsWith(name, tower_prefix) && name != projection_key) {
      options.ignore_extra.push_back(name);
    }
  }
  options.ignore_extra.push_back(tower_prefix + "embeddings.position_ids");
  LMEYE_RETURN_IF_ERROR(LoadModuleWeights(module, ckpt, options));
  for (auto& p : module.parameters()) p.set_requires_grad(false);
  return absl::OkStatus();
}

}  // namespace lmeye
