// The BLIP-2 vision tower (transformers' Blip2VisionModel, 4.29): an EVA ViT with a class token,
// a patch convolution WITH bias, learned positions, pre-norm layers whose attention is one fused
// `qkv` projection (bias = cat(q_bias, 0, v_bias): keys get no bias) and an exact-erf GELU MLP.
// Unlike CLIP there is no pre-norm before the encoder, and post_layernorm is applied to EVERY row:
// last_hidden_state is the normalised sequence, the image embeddings the Q-Former attends to.
// pooler_output is post_layernorm applied once more to the normalised class row (unused by LMEye,
// kept because transformers returns it).
//
// Module names are the checkpoint keys under `vision_model.`: `embeddings.class_embedding`
// [1, 1, D], `embeddings.patch_embedding.{weight,bias}`, `embeddings.position_embedding`
// [1, 1 + P, D], `encoder.layers.N.self_attn.{qkv.weight,q_bias,v_bias,projection.*}`,
// `encoder.layers.N.{layer_norm1,layer_norm2,mlp.fc1,mlp.fc2}.*`, `post_layernorm.*`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/vision/blip2_config.h"
#include "model/vision/blip2_weights.h"
#include "model/vision/clip_encoder.h"  // ClipMlp: the same fc1 / act / fc2

namespace lmeye {

class Blip2VisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionEmbeddingsImpl(const Blip2VisionConfig& config);
  // [batch, channels, S, S] -> [batch, 1 + n_patches, hidden] = cat(class, patches) + positions.
  at::Tensor forward(const at::Tensor& pixel_values);

  at::Tensor class_embedding;                  // [1, 1, hidden]
  torch::nn::Conv2d patch_embedding{nullptr};  // hidden x channels x patch x patch, with bias
  at::Tensor position_embedding;               // [1, 1 + n_patches, hidden]
};
TORCH_MODULE(Blip2VisionEmbeddings);

class Blip2VisionAttentionImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionAttentionImpl(const Blip2VisionConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // [batch, seq, hidden] -> same

  torch::nn::Linear qkv{nullptr};  // [3 * hidden, hidden], no bias of its own
  at::Tensor q_bias;               // [hidden]; undefined without qkv_bias
  at::Tensor v_bias;               // [hidden]; undefined without qkv_bias
  torch::nn::Linear projection{nullptr};

 private:
  int64_t n_heads_;
  int64_t head_dim_;
};
TORCH_MODULE(Blip2VisionAttention);

class Blip2VisionLayerImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionLayerImpl(const Blip2VisionConfig& config);
  // x + attn(ln1(x)), then + mlp(ln2(.)). [batch, seq, hidden] -> same.
  at::Tensor forward(const at::Tensor& hidden);

  Blip2VisionAttention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr};
  ClipMlp mlp{nullptr};
  torch::nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(Blip2VisionLayer);

class Blip2VisionEncoderImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionEncoderImpl(const Blip2VisionConfig& config);
  at::Tensor forward(const at::Tensor& hidden);  // through every layer, no final norm

  torch::nn::ModuleList layers{nullptr};  // of Blip2VisionLayer
};
TORCH_MODULE(Blip2VisionEncoder);

// transformers' Blip2VisionModel: the module under `vision_model.`.
class Blip2VisionModelImpl : public torch::nn::Module {
 public:
  explicit Blip2VisionModelImpl(const Blip2VisionConfig& config);

  Blip2VisionEmbeddings embeddings{nullptr};
  Blip2VisionEncoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(Blip2VisionModel);

struct Blip2VisionOutput {
  at::Tensor last_hidden_state;  // [batch, 1 + n_patches, hidden], post_layernorm applied
  at::Tensor pooler_output;      // [batch, hidden] = post_layernorm(last_hidden_state[:, 0])
};

// A loaded, frozen BLIP-2 vision tower on one device. Forward is const and keeps no state, but
// libtorch modules are not meant for concurrent use: one thread (the engine's) calls it.
class Blip2VisionTower {
 public:
  // Reads the `vision_model.*` tensors of `ckpt` (all other keys are ignored). Errors:
  // INVALID_ARGUMENT naming missing / misshaped / unexpected `vision_model.*` tensors, or a
  // non-floating dtype; INTERNAL for libtorch failures.
  static absl::StatusOr<std::unique_ptr<Blip2VisionTower>> Load(
      const Blip2VisionConfig& config, const Checkpoint& ckpt,
      const Blip2RuntimeOptions& options = {});
  // LoadBlip2Config(dir) + Checkpoint::Open(dir) + the above.
  static absl::StatusOr<std::unique_ptr<Blip2VisionTower>> Load(
      const std::string& dir, const Blip2RuntimeOptions& options = {});
  // Random weights (InitBlip2Random(seed)) at `config`'s sizes: benchmarks of the real shapes
  // (EVA ViT-g/14: 1408 wide, 39 layers) without the checkpoint.
  static absl::StatusOr<std::unique_ptr<Blip2VisionTower>> CreateRandom(
      const Blip2VisionConfig& config, const Blip2RuntimeOptions& options, uint64_t seed);

  const Blip2VisionConfig& config() const { return config_; }
  const Blip2RuntimeOptions& options() const { return options_; }

  // pixel_values: [batch, channels, image_size, image_size], already normalised (BlipImage-
  // Processor), any floating dtype and device (converted to the tower's). Runs under NoGradGuard.
  // Outputs are in the compute dtype, on the tower's device.
  // Errors: wrong rank / channels / size (INVALID_ARGUMENT), libtorch failures (INTERNAL).
  absl::StatusOr<Blip2VisionOutput> Forward(const at::Tensor& pixel_values) const;

  Blip2VisionModel& module() { return model_; }

 private:
  Blip2VisionTower(const Blip2VisionConfig& config, const Blip2RuntimeOptions& options);

  Blip2VisionConfig config_;
  Blip2RuntimeOptions options_;
  Blip2VisionModel model_;
};

}  // namespace lmeye
