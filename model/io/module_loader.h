// Loads a torch::nn::Module's parameters and buffers from a checkpoint by name. Modules register
// their parameters under the Hugging Face keys (docs/STYLE.md 3), so loading is a lookup: module
// parameter "layers.0.self_attn.q_proj.weight" under prefix "model." is checkpoint tensor
// "model.layers.0.self_attn.q_proj.weight".
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "model/io/checkpoint.h"

namespace lmeye {

struct LoadOptions {
  std::string prefix;                 // prepended to every module name
  at::ScalarType dtype = at::kFloat;  // compute dtype floating-point weights are converted to
  // Module names that may be absent from the checkpoint (e.g. a tied lm_head, a non-persistent
  // position_ids buffer). Exact names, without the prefix.
  std::vector<std::string> optional;
  // Checkpoint names under `prefix` that may be present without a module counterpart.
  std::vector<std::string> ignore_extra;
  // When true, checkpoint tensors under `prefix` that the module does not have are an error.
  bool strict_extra = true;
};

// Copies every parameter and buffer of `module` from `ckpt`. Missing tensors, shape mismatches and
// (when strict_extra) unexpected tensors are INVALID_ARGUMENT errors that name every offender.
absl::Status LoadModuleWeights(torch::nn::Module& module, const Checkpoint& ckpt,
                               const LoadOptions& options);

}  // namespace lmeye
