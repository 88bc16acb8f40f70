// Loading one part of a BLIP-2 checkpoint (Blip2ForConditionalGeneration's state dict) into a
// module, and random weights for the same modules (benchmarks at the real sizes).
//
// One checkpoint holds every part: `vision_model.*`, `query_tokens`, `qformer.*`,
// `language_projection.*` and the language model's `language_model.*`. Each loader reads only the
// keys it owns, so the parts load independently (and a part's weights can come from another file:
// LingCloud's re-trained language_projection, blip2_projection.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/io/checkpoint.h"

namespace lmeye {

// Where and in which dtype a loaded part computes.
struct Blip2RuntimeOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype; weights are converted to it on load
  at::Device device = at::kCPU;
};

// Which checkpoint keys a part owns and how its module names map to them.
struct Blip2PartSpec {
  const char* what;  // "BLIP-2 vision tower": names the part in messages
  // Module name n is checkpoint key module_prefix + n ("vision_model." for a module that is
  // transformers' Blip2VisionModel; "" for a root whose names are the keys).
  std::string module_prefix;
  // Keys starting with one of these belong to the part ("query_tokens", "qformer."); the
  // checkpoint's other keys are other parts' and are not looked at.
  std::vector<std::string> owned;
  // Owned keys the part may leave unused (the Q-Former's text-token feed-forward); null: none.
  std::function<bool(absl::string_view key)> unused_ok;
};

// Copies every parameter of `module` from `ckpt` converted to `dtype`, then freezes them (the
// BLIP-2 image side is frozen in LMEye). A missing or misshaped tensor, or an owned key with no
// module counterpart, is an INVALID_ARGUMENT naming all of them; libtorch errors become INTERNAL.
absl::Status LoadBlip2Part(torch::nn::Module& module, const Checkpoint& ckpt,
                           const Blip2PartSpec& spec, at::ScalarType dtype);

// Fills `module`'s parameters from a generator seeded with `seed`: LayerNorm weights 1 and biases
// 0 (names containing "norm", any case), everything else N(0, 0.02) as transformers' init, so
// activations keep a realistic scale through 39 layers. Same seed, same weights. Freezes them.
void InitBlip2Random(torch::nn::Module& module, uint64_t seed);

}  // namespace lmeye
