// T5's building blocks as a libtorch module tree whose parameter names are the Hugging Face keys
// (docs/STYLE.md 3): "shared.weight", "encoder.block.0.layer.0.SelfAttention.q.weight",
// "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
// "decoder.block.1.layer.1.EncDecAttention.k.weight", "decoder.block.1.layer.2.DenseReluDense
// .wi_0.weight", "decoder.final_layer_norm.weight", "lm_head.weight". Internal to model/llm: the
// public API is T5Model (t5_model.h), which owns the order of the computation; these modules
// hold weights and compute one sublayer each.
//
// The math is transformers v4.29 T5 (modeling_t5.py): RMS norm without mean or bias, attention
// without 1/sqrt(d) scaling, no biases anywhere, relative position buckets whose bias table lives
// in each stack's first block only.
//
// Parameters are created uninitialised in the compute dtype and filled by LoadModuleWeights; the
// tree is read-only after loading.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/llm/llm_modules.h"
#include "model/llm/t5_config.h"

namespace lmeye {

// HF T5Attention._relative_position_bucket, the same float32 ops: relative = key position -
// query position (int64, any shape) -> bucket in [0, num_buckets). Bidirectional (encoder):
// half the buckets per sign; else (decoder) keys after the query all fall in bucket 0.
at::Tensor T5RelativePositionBucket(const at::Tensor& relative, bool bidirectional,
                                    int64_t num_buckets, int64_t max_distance);

// HF's additive attention mask: 0 where `allowed` (bool or 0/1) is true, the dtype's lowest
// value where it is false (finfo.min, as T5 adds it to the position bias).
at::Tensor T5MaskBias(const at::Tensor& allowed, at::ScalarType dtype);

// T5LayerNorm: x * rsqrt(mean(x^2) + eps) * weight, statistics in float32.
class T5LayerNormImpl : public torch::nn::Module {
 public:
  T5LayerNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  double eps_;
  at::Tensor weight_;
};
TORCH_MODULE(T5LayerNorm);

// softmax(q k^T + bias) v, the scores in float32 for the softmax: q [B, H, T, D], k and v
// [B, H, L, D], bias broadcastable to [B, H, T, L] (position bias and mask) -> [B, T, H * D].
at::Tensor T5Attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const at::Tensor& bias);

// SelfAttention or EncDecAttention: q, k, v, o [inner, d_model] (o [d_model, inner]) and, in a
// stack's first self-attention, relative_attention_bias [num_buckets, H].
class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5Config& config, bool cross, bool relative_bias,
                  const at::TensorOptions& options);
  // Self-attention: x [B, T, d_model] -> q, k, v, each [B, T, H, D] (views of one GEMM's output).
  std::vector<at::Tensor> QueryKeyValue(const at::Tensor& x) const;
  // Cross-attention: x [B, T, d_model] -> q [B, T, H, D].
  at::Tensor Query(const at::Tensor& x) const;
  // Cross-attention: encoder output [B, Te, d_model] -> k, v, each [B, Te, H, D].
  std::vector<at::Tensor> KeyValue(const at::Tensor& encoder) const;
  // [B, T, H * D] -> [B, T, d_model].
  at::Tensor Out(const at::Tensor& x) const { return o_->forward(x); }
  // Buckets (int64, any shape) -> [.., H] in the compute dtype. Only in a stack's first block.
  at::Tensor RelativeBias(const at::Tensor& buckets) const;

 private:
  int64_t n_heads_, d_kv_;
  bool cross_;
  // q/k/v (cross: k/v) weights live in one tensor, their Linear parameters being views of it, so
  // a projection is one GEMM: a decode step is bound by the number of ops more than their size.
  at::Tensor fused_weight_;
  Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, o_{nullptr};
  Embedding relative_attention_bias_{nullptr};
};
TORCH_MODULE(T5Attention);

// DenseReluDense: wo(act(wi x)) or, gated, wo(act(wi_0 x) * wi_1 x).
class T5FeedForwardImpl : public torch::nn::Module {
 public:
  T5FeedForwardImpl(const T5Config& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  T5Activation activation_;
  bool gated_;
  at::Tensor wi_fused_;  // gated: [2 d_ff, d_model], wi_0 rows then wi_1 rows (one GEMM)
  Linear wi_{nullptr}, wi_0_{nullptr}, wi_1_{nullptr}, wo_{nullptr};
};
TORCH_MODULE(T5FeedForward);

// One block ("block.N"): layer.0 = self-attention, then (decoder) layer.1 = cross-attention,
// then the feed-forward; each sublayer is pre-norm with a residual. The callers (T5Model) run
// the attention themselves, since where keys come from (this call, the cache) is theirs to say;
// the block gives the pieces.
class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5Config& config, bool decoder, bool first, const at::TensorOptions& options);

  const T5Attention& self_attention() const { return self_attention_; }
  const T5Attention& cross_attention() const { return cross_attention_; }
  const T5LayerNorm& self_norm() const { return self_norm_; }
  const T5LayerNorm& cross_norm() const { return cross_norm_; }
  // x + FF(norm(x)).
  at::Tensor FeedForward(const at::Tensor& x) const;

  // Encoder block, or decoder block without a cache: x [B, T, d_model]; self_bias [B|1, H, T, T]
  // (position bias + mask); decoder only: encoder output [B, Te, d_model] and cross_bias
  // [B, 1, 1|T, Te] (the encoder mask). FP16 inputs are clamped like HF's T5Block.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& self_bias,
                     const at::Tensor& encoder = {}, const at::Tensor& cross_bias = {}) const;

 private:
  bool decoder_;
  T5Attention self_attention_{nullptr}, cross_attention_{nullptr};
  T5LayerNorm self_norm_{nullptr}, cross_norm_{nullptr}, ff_norm_{nullptr};
  T5FeedForward ff_{nullptr};
};
TORCH_MODULE(T5Block);

// HF T5Block's float16 guard: values beyond the largest finite half (minus 1000) are clamped
// after each sublayer when any is infinite. A no-op in other dtypes.
at::Tensor T5ClampFp16(const at::Tensor& x);

// An encoder or decoder stack: "block.N" and "final_layer_norm". The token embedding is the
// model's "shared" table (T5Model), not registered here.
class T5StackImpl : public torch::nn::Module {
 public:
  T5StackImpl(const T5Config& config, bool decoder, const at::TensorOptions& options);
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  const T5Block& block(int64_t i) const { return blocks_[i]; }
  at::Tensor FinalNorm(const at::Tensor& x) const { return final_layer_norm_->forward(x); }
  // The relative position bias shared by every block of the stack (block 0 computes it):
  // relative positions (key - query, int64 [..]) -> [.., H] in the compute dtype, bidirectional
  // in the encoder, causal in the decoder.
  at::Tensor PositionBias(const at::Tensor& relative) const;

 private:
  bool decoder_;
  int64_t num_buckets_, max_distance_;
  std::vector<T5Block> blocks_;
  T5LayerNorm final_layer_norm_{nullptr};
};
TORCH_MODULE(T5Stack);

// T5ForConditionalGeneration's tree: "shared", "encoder", "decoder", "lm_head" (absent when
// tied to shared).
class T5TreeImpl : public torch::nn::Module {
 public:
  T5TreeImpl(const T5Config& config, const at::TensorOptions& options);
  at::Tensor Embed(const at::Tensor& ids) const { return shared_->forward(ids); }
  const T5Stack& encoder() const { return encoder_; }
  const T5Stack& decoder() const { return decoder_; }
  // Decoder output after final_layer_norm [.., d_model] -> logits [.., V]; tied: scaled by
  // d_model^-0.5 first, through the shared table.
  at::Tensor LmHead(const at::Tensor& hidden) const;

 private:
  T5Config config_;
  Embedding shared_{nullptr};
  T5Stack encoder_{nullptr}, decoder_{nullptr};
  Linear lm_head_{nullptr};
};
TORCH_MODULE(T5Tree);

}  // namespace lmeye
