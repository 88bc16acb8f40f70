// The `--device cpu|cuda:N` row of the modes that run the model themselves (bench, verify): one
// parser (model/common/device.h), one error wording.
#pragma once

#include <c10/core/Device.h>

#include "model/common/flags.h"

namespace lmeye {

// `--device`, parsed into `*target` (which must outlive the parse); default shown as "cpu".
Flag DeviceFlag(at::Device* target);

}  // namespace lmeye
