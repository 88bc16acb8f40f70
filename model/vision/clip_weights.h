// Loading one CLIP tower's weights from a tower checkpoint (CLIPVisionModel[WithProjection],
// CLIPTextModel[WithProjection]) or from a full CLIPModel, whose keys are the same
// (`vision_model.*` + `visual_projection.weight`, `text_model.*` + `text_projection.weight`).
#pragma once

#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "model/io/checkpoint.h"

namespace lmeye {

// Where and in which dtype a loaded tower computes.
struct ClipRuntimeOptions {
  at::ScalarType dtype = at::kFloat;  // compute dtype; weights are converted to it on load
  at::Device device = at::kCPU;
};

// Copies `module`'s parameters from `ckpt` (module names = checkpoint keys, no prefix) converted to
// `dtype`, then freezes them (requires_grad false: the CLIP towers are frozen in LMEye).
// Checkpoint tensors outside `tower_prefix` ("vision_model.") and `projection_key` (the other
// tower, logit_scale) are ignored, as is the `<tower_prefix>embeddings.position_ids` buffer older
// checkpoints persisted; any other unexpected tensor under `tower_prefix`, a missing tensor or a
// shape mismatch is an INVALID_ARGUMENT error naming them.
absl::Status LoadClipTowerWeights(torch::nn::Module& module, const Checkpoint& ckpt,
                                  const std::string& tower_prefix,
                                  const std::string& projection_key, at::ScalarType dtype);

}  // namespace lmeye
