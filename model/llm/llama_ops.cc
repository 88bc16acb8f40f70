// LLaMA: rotary position embeddings (transformers models/llama/modeling_llama.py, v4.35).
#include "model/llm/family_ops.h"

#include "model/llm/cpu_norm_rope.h"

namespace lmeye {

at::Tensor RopeInvFreq(int64_t head_dim, double theta, at::Device device) {
  auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor exponent = at::arange(0, head_dim, 2, f32) / static_cast<double>(head_dim);
  return 1.0 / at::pow(at::scalar_tensor(theta, f32), exponent);
}

void RopeCosSin(const at::Tensor& positions, const at::Tensor& inv_freq, double linear_factor,
                at::ScalarType dtype, at::Tensor* cos, at::Tensor* sin) {
  // float32 position * inv_freq, as HF's outer product of a float32 arange with inv_freq.
  at::Tensor t = positions.to(at::kFloat);
  if (linear_factor != 1.0) t = t / linear_factor;
  at::Tensor freqs = t.unsqueeze(-1) * inv_freq.view({1, 1, -1});  // [B, T, D/2]
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(2);       // [B, T, 1, D]
  *cos = emb.cos().to(dtype);
  *sin = emb.sin().to(dtype);
}

at::Tensor ApplyRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (CpuRopeSupported(x, cos, sin)) return CpuRope(x, cos, sin);
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

}  // namespace lmeye
