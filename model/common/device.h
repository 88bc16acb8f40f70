// Where and in what precision a model runs, parsed from the spellings that flags and config
// files use ("cpu", "cuda", "cuda:1"; "fp32", "bf16", "fp16").
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// "cpu", "cuda", "cuda:N". INVALID_ARGUMENT for anything else, and for a CUDA device this
// libtorch cannot use (a CPU-only build, no GPU, or N past the device count).
absl::StatusOr<at::Device> ParseDevice(absl::string_view text);

// "fp32"/"f32"/"float32", "bf16"/"bfloat16", "fp16"/"f16"/"float16". INVALID_ARGUMENT otherwise.
absl::StatusOr<at::ScalarType> ParseDtype(absl::string_view text);

// "fp32", "bf16", "fp16" (the names ParseDtype takes, for logs and GetModelInfo).
std::string DtypeName(at::ScalarType dtype);

// A model's --dtype: the compute dtype, and whether the LLM's linear weights are int8
// (weight-only, model/llm/int8_weight.h). "int8" computes in bf16.
struct ModelDtype {
  at::ScalarType compute = at::kFloat;
  bool int8_weights = false;
};
// ParseDtype's names, and "int8". INVALID_ARGUMENT otherwise.
absl::StatusOr<ModelDtype> ParseModelDtype(absl::string_view text);
// "int8" or DtypeName(compute).
std::string ModelDtypeName(const ModelDtype& dtype);

// Waits for the work queued on `device` (a no-op on the CPU): timings of GPU work need it.
void SynchronizeDevice(const at::Device& device);

}  // namespace lmeye
