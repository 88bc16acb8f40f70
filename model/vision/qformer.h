// The BLIP-2 Q-Former (transformers' Blip2QFormerModel, 4.29) on its query path: the learned
// query tokens, LayerNorm'ed (`qformer.layernorm`), run through BERT post-norm layers. Each layer
// has self-attention over the queries, cross-attention to the image embeddings in layers whose
// index is a multiple of cross_attention_frequency (keys / values read the vision width), and the
// QUERY feed-forward `intermediate_query` / `output_query`. The text-token feed-forward
// (`intermediate` / `output`) is for text input, which this path never has: the checkpoint may
// hold it and it is accepted unused. Masks are all ones (every query sees every query and every
// image row), and adding transformers' all-zero extended mask changes nothing, so none is built.
//
// Module names are the checkpoint keys: `query_tokens` [1, Q, H], `qformer.layernorm.*`,
// `qformer.encoder.layer.N.attention.attention.{query,key,value}.*`,
// `qformer.encoder.layer.N.attention.output.{dense,LayerNorm}.*`, the same under
// `crossattention.`, `qformer.encoder.layer.N.intermediate_query.dense.*`,
// `qformer.encoder.layer.N.output_query.{dense,LayerNorm}.*`.
//
// `language_projection` (Q-Former width -> language model width) is not part of this: it is
// loaded and applied by Blip2LanguageProjection (blip2_projection.h), because LingCloud's LMEye
// replaces it with a re-trained one from another file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "absl/status/statusor.h"
#include "model/io/checkpoint.h"
#include "model/vision/blip2_config.h"
#include "model/vision/blip2_weights.h"

namespace lmeye {

class QFormerMultiHeadAttentionImpl : public torch::nn::Module {
 public:
  // Keys / values read `kv_width` (hidden_size for self-attention, encoder_hidden_size for
  // cross-attention).
  QFormerMultiHeadAttentionImpl(const Blip2QFormerConfig& config, int64_t kv_width);
  // hidden: [batch, q, hidden]; context: [batch, n, kv_width] (hidden itself for
  // self-attention). Returns the heads' concatenated context, [batch, q, hidden].
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& context);

  torch::nn::Linear query{nullptr};
  torch::nn::Linear key{nullptr};
  torch::nn::Linear value{nullptr};

 private:
  int64_t n_heads_;
  int64_t head_dim_;
};
TORCH_MODULE(QFormerMultiHeadAttention);

// BERT's "dense, then LayerNorm(x + residual)": Blip2QFormerSelfOutput and Blip2QFormerOutput.
class QFormerOutputImpl : public torch::nn::Module {
 public:
  QFormerOutputImpl(const Blip2QFormerConfig& config, int64_t in_width);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& residual);

  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};  // NOLINT: the checkpoint key is "LayerNorm"
};
TORCH_MODULE(QFormerOutput);

// Blip2QFormerAttention: attention, then output(., hidden).
class QFormerAttentionImpl : public torch::nn::Module {
 public:
  QFormerAttentionImpl(const Blip2QFormerConfig& config, int64_t kv_width);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& context);

  QFormerMultiHeadAttention attention{nullptr};
  QFormerOutput output{nullptr};
};
TORCH_MODULE(QFormerAttention);

// Blip2QFormerIntermediate: activation(dense(x)), hidden -> intermediate.
class QFormerIntermediateImpl : public torch::nn::Module {
 public:
  explicit QFormerIntermediateImpl(const Blip2QFormerConfig& config);
  at::Tensor forward(const at::Tensor& hidden);

  torch::nn::Linear dense{nullptr};

 private:
  ClipActivation activation_;
};
TORCH_MODULE(QFormerIntermediate);

class QFormerLayerImpl : public torch::nn::Module {
 public:
  QFormerLayerImpl(const Blip2QFormerConfig& config, int64_t layer_idx);
  // queries: [batch, q, hidden]; image: [batch, n, encoder_hidden]. Returns [batch, q, hidden].
  at::Tensor forward(const at::Tensor& queries, const at::Tensor& image);

  QFormerAttention attention{nullptr};
  QFormerAttention crossattention{nullptr};  // null in layers without cross-attention
  QFormerIntermediate intermediate_query{nullptr};
  QFormerOutput output_query{nullptr};
};
TORCH_MODULE(QFormerLayer);

class QFormerEncoderImpl : public torch::nn::Module {
 public:
  explicit QFormerEncoderImpl(const Blip2QFormerConfig& config);
  at::Tensor forward(const at::Tensor& queries, const at::Tensor& image);  // every layer

  torch::nn::ModuleList layer{nullptr};  // of QFormerLayer
};
TORCH_MODULE(QFormerEncoder);

// transformers' Blip2QFormerModel without the text path: the module under `qformer.`.
class QFormerModelImpl : public torch::nn::Module {
 public:
  explicit QFormerModelImpl(const Blip2QFormerConfig& config);
  // query_embeds: [batch, q, hidden]; image: [batch, n, encoder_hidden] -> [batch, q, hidden].
  at::Tensor forward(const at::Tensor& query_embeds, const at::Tensor& image);

  torch::nn::LayerNorm layernorm{nullptr};
  QFormerEncoder encoder{nullptr};
};
TORCH_MODULE(QFormerModel);

// The part of Blip2ForConditionalGeneration the Q-Former keys live in: `query_tokens` and
// `qformer`.
class QFormerRootImpl : public torch::nn::Module {
 public:
  QFormerRootImpl(const Blip2QFormerConfig& config, int64_t n_query_tokens);

  at::Tensor query_tokens;  // [1, n_query_tokens, hidden]
  QFormerModel qformer{nullptr};
};
TORCH_MODULE(QFormerRoot);

// A loaded, frozen Q-Former with its query tokens, on one device. Same threading contract as the
// vision tower: const forward, one calling thread.
class Blip2QFormer {
 public:
  // Reads `query_tokens` and the `qformer.*` tensors of `ckpt`; every other key (vision_model,
  // language_projection, language_model) is ignored, and so is the text feed-forward
  // `qformer.encoder.layer.N.{intermediate,output}.*`. Errors: INVALID_ARGUMENT naming missing /
  // misshaped / unexpected tensors; INTERNAL for libtorch failures.
  static absl::StatusOr<std::unique_ptr<Blip2QFormer>> Load(
      const Blip2Config& config, const Checkpoint& ckpt, const Blip2RuntimeOptions& options = {});
  // LoadBlip2Config(dir) + Checkpoint::Open(dir) + the above.
  static absl::StatusOr<std::unique_ptr<Blip2QFormer>> Load(
      const std::string& dir, const Blip2RuntimeOptions& options = {});
  // Random weights (InitBlip2Random(seed)) at `config`'s sizes, for benchmarks.
  static absl::StatusOr<std::unique_ptr<Blip2QFormer>> CreateRandom(
      const Blip2Config& config, const Blip2RuntimeOptions& options, uint64_t seed);

  const Blip2QFormerConfig& config() const { return config_; }
  int64_t n_query_tokens() const { return n_query_tokens_; }

  // image_embeds: [batch, n, encoder_hidden_size], the vision tower's last_hidden_state (any
  // floating dtype and device; converted). Returns last_hidden_state [batch, Q, hidden] in the
  // compute dtype on the Q-Former's device, the query tokens expanded to the batch. Runs under
  // NoGradGuard. Errors: a wrong shape (INVALID_ARGUMENT), libtorch failures (INTERNAL).
  absl::StatusOr<at::Tensor> Forward(const at::Tensor& image_embeds) const;

  QFormerRoot& module() { return root_; }

 private:
  Blip2QFormer(const Blip2Config& config, const Blip2RuntimeOptions& options);

  Blip2QFormerConfig config_;
  int64_t n_query_tokens_;
  Blip2RuntimeOptions options_;
  QFormerRoot root_;
};

}  // namespace lmeye
