// The few computations that truly differ between families (docs/STYLE.md 2: one file per family):
// BLOOM's ALiBi, fused QKV layout and GELU (bloom_ops.cc), LLaMA's rotary embeddings
// (llama_ops.cc). OPT's only difference, learned positions at an offset, is kOptPositionOffset.
// Pure functions of their inputs; any thread.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace lmeye {

// OPT's learned position table is indexed by position + 2 (a fairseq legacy), so padding (whose
// position HF computes as -1) reads row 1.
constexpr int64_t kOptPositionOffset = 2;

// ---- BLOOM ----

// ALiBi head slopes, float32 [n_heads], exactly as transformers' build_alibi_tensor: geometric
// for the closest power of two, then every other slope of the next power of two for the rest.
at::Tensor AlibiSlopes(int64_t n_heads);

// ALiBi attention bias: slope_h * key_position. key_positions [B|1, L] (int64 or float) ->
// float32 [B|1, n_heads, 1, L]. Softmax is shift-invariant per query, so the query position is
// not needed (HF does the same).
at::Tensor AlibiBias(const at::Tensor& slopes, const at::Tensor& key_positions);

// BLOOM's fused query_key_value output [B, T, n_heads * 3 * head_dim] is laid out per head as
// [q, k, v]; returns q, k, v views [B, T, n_heads, head_dim].
void SplitFusedQkv(const at::Tensor& qkv, int64_t n_heads, int64_t head_dim, at::Tensor* q,
                   at::Tensor* k, at::Tensor* v);

// transformers' bloom_gelu_forward: x * 0.5 * (1 + tanh(0.79788456 * x * (1 + 0.044715 x^2))).
at::Tensor BloomGelu(const at::Tensor& x);

// ---- LLaMA ----

// RoPE inverse frequencies, float32 [head_dim / 2]: 1 / theta^(2i / head_dim).
at::Tensor RopeInvFreq(int64_t head_dim, double theta, at::Device device);

// cos and sin for positions [B, T] (int64) -> [B, T, 1, head_dim] in `dtype`, with the
// "halves" layout (the frequencies repeated twice, not interleaved) that HF LLaMA uses.
// linear_factor divides positions (rope_scaling type linear).
void RopeCosSin(const at::Tensor& positions, const at::Tensor& inv_freq, double linear_factor,
                at::ScalarType dtype, at::Tensor* cos, at::Tensor* sin);

// x [B, T, H, head_dim] -> x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace lmeye
