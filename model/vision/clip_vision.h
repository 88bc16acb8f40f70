// The CLIP vision tower (transformers' CLIPVisionModel / CLIPVisionModelWithProjection): class
// token + patch convolution + learned positions, pre_layrnorm (sic, the HF key), the encoder with
// full attention, post_layernorm on the CLS token (pooler_output = LMEye's h_I), and the optional
// visual_projection (image_embeds, not L2-normalised).
//
// Module names are the checkpoint keys: `vision_model.embeddings.class_embedding`,
// `vision_model.embeddings.patch_embedding.weight`, `vision_model.pre_layrnorm.weight`,
// `vision_model.encoder.layers.N...`, `vision_model.post_layernorm.bias`,
// `visual_projection.weight`.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/vision/clip_config.h"
#include "model/vision/clip_encoder.h"
#include "model/vision/clip_weights.h"  // ClipRuntimeOptions

namespace lmeye {

class ClipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& config);
  // pixel_values: [batch, channels, image_size, image_size] ->
  // [batch, 1 + n_patches, hidden] = cat(class, patches) + positions.
  at::Tensor forward(const at::Tensor& pixel_values);

  at::Tensor class_embedding;                        // [hidden]
  torch::nn::Conv2d patch_embedding{nullptr};        // hidden x channels x patch x patch, no bias
  torch::nn::Embedding position_embedding{nullptr};  // [1 + n_patches, hidden]
};
TORCH_MODULE(ClipVisionEmbeddings);

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& config);

  ClipVisionEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};
  ClipEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

// The checkpoint root: `vision_model` and, when the checkpoint has it, `visual_projection`.
class ClipVisionModelImpl : public torch::nn::Module {
 public:
  ClipVisionModelImpl(const ClipVisionConfig& config, bool with_projection);

  ClipVisionTransformer vision_model{nullptr};
  torch::nn::Linear visual_projection{nullptr};  // null without projection
};
TORCH_MODULE(ClipVisionModel);

struct ClipVisionForwardOptions {
  // Keep every layer's output (memory: n_layers + 1 tensors of [batch, positions, hidden]).
  bool output_hidden_states = false;
  // Run in the caller's grad mode: only when training the tower itself (`lmeye train --stage
  // clip`). Otherwise the forward runs under NoGradGuard, whatever the caller's mode.
  bool grad = false;
};

struct ClipVisionOutput {
  at::Tensor embeddings;                  // [batch, positions, hidden], before pre_layrnorm
  std::vector<at::Tensor> hidden_states;  // output_hidden_states only: [0] = pre_layrnorm output
  at::Tensor last_hidden_state;           // [batch, positions, hidden], no post_layernorm
  at::Tensor pooler_output;               // [batch, hidden] = post_layernorm(CLS)
  at::Tensor image_embeds;                // [batch, projection_dim]; undefined w/o projection
};

// A loaded, frozen vision tower on one device. Forward is const and keeps no state between calls,
// but libtorch modules are not meant for concurrent use: one thread (the engine's) calls it.
class ClipVisionTower {
 public:
  // `dir` holds config.json (CLIPVisionConfig or a full CLIPConfig) and the weights
  // (model.safetensors or a sharded index). visual_projection is loaded when the checkpoint has
  // it. Errors: not a CLIP config with a vision tower, missing / mis-shaped / unexpected tensors.
  static absl::StatusOr<std::unique_ptr<ClipVisionTower>> Load(
      const std::string& dir, const ClipRuntimeOptions& options = {});
  // Same from an already parsed config and opened checkpoint (a CLIPModel directory shared with
  // the text tower is opened once).
  static absl::StatusOr<std::unique_ptr<ClipVisionTower>> Load(
      const ClipConfig& config, const Checkpoint& ckpt, const ClipRuntimeOptions& options = {});

  const ClipVisionConfig& config() const { return config_; }
  bool has_projection() const { return !model_->visual_projection.is_empty(); }
  at::ScalarType dtype() const { return options_.dtype; }
  const at::Device& device() const { return options_.device; }

  // pixel_values: [batch, channels, image_size, image_size], already CLIP-normalised (no
  // position interpolation for other sizes: the preprocessor crops to image_size), any
  // floating dtype and device (converted to the tower's). Runs under NoGradGuard (nothing
  // upstream of the vision tower is trainable) unless options.grad. Outputs are in the compute dtype, on device().
  // Errors: wrong rank / channels / size (INVALID_ARGUMENT), libtorch failures (INTERNAL).
  absl::StatusOr<ClipVisionOutput> Forward(const at::Tensor& pixel_values,
                                           const ClipVisionForwardOptions& options = {}) const;

  ClipVisionModel& module() { return model_; }

 private:
  ClipVisionTower(const ClipVisionConfig& config, const ClipRuntimeOptions& options,
                  bool with_projection);

  ClipVisionConfig config_;
  ClipRuntimeOptions options_;
  ClipVisionModel model_;
};

}  // namespace lmeye
