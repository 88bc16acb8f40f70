// Loads a torch::nn::Module's parameters and buffers from a checkpoint by name. Modules register
// their parameters under the Hugging Face keys (docs/STYLE.md 3), so loading is a lookup: module
// parameter "layers.0.self_attn.q_proj.weight" under prefix "model." is checkpoint tensor
// "model.layers.0.self_attn.q_proj.weight".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
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

// Every tensor of the safetensors file `path` into `module` (strict: exactly its names), then the
// module converted to `dtype`: a small module saved whole, such as an IPN adapter. `what` names it
// in errors.
absl::Status LoadModuleFile(torch::nn::Module& module, const std::string& path,
                            at::ScalarType dtype, const std::string& what);

// Registers `holder` at the dotted module path `path` below `root` ("layer.0.SelfAttention"),
// creating plain intermediate modules, so that parameter names are the checkpoint keys.
template <typename Holder>
Holder RegisterAt(torch::nn::Module& root, const std::string& path, Holder holder) {
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  torch::nn::Module* parent = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto children = parent->named_children();
    if (const auto* child = children.find(parts[i])) {
      parent = child->get();
    } else {
      parent = parent->register_module(parts[i], std::make_shared<torch::nn::Module>()).get();
    }
  }
  parent->register_module(parts.back(), holder);
  return holder;
}

}  // namespace lmeye
