#include "server/modes/device_flag.h"

#include "absl/strings/str_cat.h"
#include "model/common/device.h"

namespace lmeye {

Flag DeviceFlag(at::Device* target) {
  return CustomFlag(
             "device", FlagKind::kString, "cpu|cuda:N", "where the model runs",
             [target](const std::string& v) -> absl::Status {
               absl::StatusOr<at::Device> device = ParseDevice(v);
               if (!device.ok()) {
                 return absl::InvalidArgumentError(absl::StrCat("--", device.status().message()));
               }
               *target = *device;
               return absl::OkStatus();
             })
      .Default("cpu");
}

}  // namespace lmeye
