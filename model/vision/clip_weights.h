// Loading one CLIP tower from a tower checkpoint (CLIPVisionModel[WithProjection],
// CLIPTextModel[WithProjection]) or from a full CLIPModel, whose keys are the same
// (`vision_model.*` + `visual_projection.weight`, `text_model.*` + `text_projection.weight`).
// The steps are the same for both towers, so both Load functions are LoadClipTower below.
#pragma once

#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/io/checkpoint.h"
#include "model/vision/clip_config.h"

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

// What tells the two towers apart when loading.
struct ClipTowerKind {
  const char* tower;       // "vision": names the tower in errors
  const char* other;       // "text": the tower a config of the wrong kind describes
  const char* prefix;      // "vision_model.": the tower's checkpoint keys
  const char* projection;  // "visual_projection.weight": present when the tower projects
};
inline constexpr ClipTowerKind kClipVisionKind{"vision", "text", "vision_model.",
                                               "visual_projection.weight"};
inline constexpr ClipTowerKind kClipTextKind{"text", "vision", "text_model.",
                                             "text_projection.weight"};

// Builds a tower with `make(with_projection)` (the projection exists when the checkpoint has its
// weight) and loads its weights into `module_of(tower)`, frozen, converted to options.dtype.
// INVALID_ARGUMENT when `has_config` is false (the config describes the other tower) or the dtype
// is not floating-point; weight errors as LoadClipTowerWeights; libtorch errors as GuardTorch.
template <typename Tower, typename Make, typename ModuleOf>
absl::StatusOr<std::unique_ptr<Tower>> LoadClipTower(const ClipTowerKind& kind, bool has_config,
                                                     const Checkpoint& ckpt,
                                                     const ClipRuntimeOptions& options, Make make,
                                                     ModuleOf module_of) {
  if (!has_config) {
    return absl::InvalidArgumentError(
        absl::StrCat(ckpt.location(), ": the config describes a CLIP ", kind.other, " tower (clip_",
                     kind.other, "_model), not a ", kind.tower, " tower; use a clip_", kind.tower,
                     "_model or full clip config"));
  }
  if (!at::isFloatingType(options.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("CLIP ", kind.tower, " tower: compute dtype must be floating-point"));
  }
  const bool with_projection = ckpt.Contains(kind.projection);
  return GuardTorch(absl::StrCat("loading the CLIP ", kind.tower, " tower from ", ckpt.location()),
                    [&]() -> absl::StatusOr<std::unique_ptr<Tower>> {
                      std::unique_ptr<Tower> tower = make(with_projection);
                      LMEYE_RETURN_IF_ERROR(LoadClipTowerWeights(
                          module_of(*tower), ckpt, kind.prefix, kind.projection, options.dtype));
                      return tower;
                    });
}

// Tower::Load(config, checkpoint, options) on the config and weights of directory `dir`.
template <typename Tower>
absl::StatusOr<std::unique_ptr<Tower>> LoadClipTowerDir(const std::string& dir,
                                                        const ClipRuntimeOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(ClipConfig config, LoadClipConfig(dir));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ckpt, Checkpoint::Open(dir));
  return Tower::Load(config, *ckpt, options);
}

}  // namespace lmeye
