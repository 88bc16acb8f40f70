#include "model/common/device.h"

#include <torch/cuda.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lmeye {

absl::StatusOr<at::Device> ParseDevice(absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(text);
  if (name == "cpu") return at::Device(at::kCPU);
  int index = 0;
  if (name == "cuda") {
    index = 0;
  } else if (name.rfind("cuda:", 0) != 0 || !absl::SimpleAtoi(name.substr(5), &index) ||
             index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("device must be cpu, cuda or cuda:N, got \"", text, "\""));
  }
  // Checked here, not at the first tensor op: a typo'd device should fail at start-up with a
  // message, not deep inside model loading.
  if (!torch::cuda::is_available()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "device \"", text, "\": this build of libtorch sees no CUDA device"));
  }
  if (index >= static_cast<int>(torch::cuda::device_count())) {
    return absl::InvalidArgumentError(absl::StrCat("device \"", text, "\": only ",
                                                   torch::cuda::device_count(),
                                                   " CUDA device(s)"));
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

absl::StatusOr<at::ScalarType> ParseDtype(absl::string_view text) {
  const std::string name = absl::AsciiStrToLower(text);
  if (name == "fp32" || name == "f32" || name == "float32") return at::kFloat;
  if (name == "bf16" || name == "bfloat16") return at::kBFloat16;
  if (name == "fp16" || name == "f16" || name == "float16") return at::kHalf;
  return absl::InvalidArgumentError(
      absl::StrCat("dtype must be fp32, bf16 or fp16, got \"", text, "\""));
}

std::string DtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return c10::toString(dtype);
  }
}

absl::StatusOr<ModelDtype> ParseModelDtype(absl::string_view text) {
  if (absl::AsciiStrToLower(text) == "int8") return ModelDtype{at::kBFloat16, true};
  absl::StatusOr<at::ScalarType> compute = ParseDtype(text);
  if (!compute.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype must be fp32, bf16, fp16 or int8, got \"", text, "\""));
  }
  return ModelDtype{*compute, false};
}

std::string ModelDtypeName(const ModelDtype& dtype) {
  return dtype.int8_weights ? "int8" : DtypeName(dtype.compute);
}

void SynchronizeDevice(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

}  // namespace lmeye
