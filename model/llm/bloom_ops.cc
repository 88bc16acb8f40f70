// BLOOM: ALiBi, fused per-head QKV, bloom_gelu (transformers models/bloom/modeling_bloom.py).
#include <cmath>

#include "model/llm/family_ops.h"

namespace lmeye {

at::Tensor AlibiSlopes(int64_t n_heads) {
  // Computed with float32 tensors like HF (python float base cast to float32, then torch.pow), so
  // the slopes are bit-identical to the reference.
  const int64_t closest = int64_t{1} << static_cast<int64_t>(std::floor(std::log2(n_heads)));
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  const double base = std::pow(2.0, -std::pow(2.0, -(std::log2(closest) - 3)));
  at::Tensor slopes = at::pow(at::scalar_tensor(base, f32),
                              at::arange(1, 1 + closest, at::TensorOptions().dtype(at::kInt)));
  if (closest != n_heads) {
    const double extra_base = std::pow(2.0, -std::pow(2.0, -(std::log2(2 * closest) - 3)));
    const int64_t n_remaining = std::min(closest, n_heads - closest);
    at::Tensor extra =
        at::pow(at::scalar_tensor(extra_base, f32),
                at::arange(1, 1 + 2 * n_remaining, 2, at::TensorOptions().dtype(at::kInt)));
    slopes = at::cat({slopes, extra});
  }
  return slopes;
}

at::Tensor AlibiBias(const at::Tensor& slopes, const at::Tensor& key_positions) {
  at::Tensor s = slopes.to(key_positions.device());
  // [1, H, 1, 1] * [B, 1, 1, L]
  return s.view({1, -1, 1, 1}) * key_positions.to(at::kFloat).unsqueeze(1).unsqueeze(1);
}

void SplitFusedQkv(const at::Tensor& qkv, int64_t n_heads, int64_t head_dim, at::Tensor* q,
                   at::Tensor* k, at::Tensor* v) {
  at::Tensor fused = qkv.view({qkv.size(0), qkv.size(1), n_heads, 3, head_dim});
  *q = fused.select(3, 0);
  *k = fused.select(3, 1);
  *v = fused.select(3, 2);
}

at::Tensor BloomGelu(const at::Tensor& x) {
  return x * 0.5 * (1.0 + at::tanh(0.79788456 * x * (1 + 0.044715 * x * x)));
}

}  // namespace lmeye
