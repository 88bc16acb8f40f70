#include "model/llm/int8_weight.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ATen/Parallel.h>
#include <c10/util/Half.h>

namespace lmeye {

float QuantizeQ8_0Block(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (int64_t j = 0; j < kInt8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  // ggml divides by the float32 d and stores d as fp16: the values follow the first, the
  // dequantized weight the second.
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < kInt8Block; ++j) q[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  return static_cast<float>(c10::Half(d));
}

bool Int8Quantizable(const at::Tensor& weight) {
  return weight.defined() && weight.dim() == 2 && weight.device().is_cpu() &&
         at::isFloatingType(weight.scalar_type()) && weight.size(1) > 0 &&
         weight.size(1) % kInt8Block == 0;
}

Int8Weight QuantizeInt8(const at::Tensor& weight) {
  TORCH_CHECK(Int8Quantizable(weight),
              "QuantizeInt8: expected a 2-D CPU float tensor whose rows "
              "are multiples of ",
              kInt8Block, ", got ", weight.sizes(), " ", weight.scalar_type());
  const int64_t N = weight.size(0), K = weight.size(1), blocks = K / kInt8Block;
  at::Tensor w = weight.to(at::kFloat).contiguous();
  Int8Weight out;
  out.values = at::empty({N, K}, weight.options().dtype(at::kChar));
  out.scales = at::empty({N, blocks}, weight.options().dtype(at::kFloat));
  const float* src = w.data_ptr<float>();
  int8_t* q = out.values.data_ptr<int8_t>();
  float* s = out.scales.data_ptr<float>();
  at::parallel_for(0, N * blocks, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      s[b] = QuantizeQ8_0Block(src + b * kInt8Block, q + b * kInt8Block);
    }
  });
  return out;
}

namespace {

// Round to nearest even, as c10::BFloat16 does for the finite values a weight has; written on
// the bits so that the loop below vectorises.
inline uint16_t RoundToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

template <typename O, typename Convert>
void DequantizeBlocks(const Int8Weight& weight, O* out, Convert convert) {
  const int8_t* q = weight.values.data_ptr<int8_t>();
  const float* s = weight.scales.data_ptr<float>();
  at::parallel_for(0, weight.scales.numel(), 2048, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float d = s[b];
      for (int64_t j = 0; j < kInt8Block; ++j) {
        out[b * kInt8Block + j] = convert(d * static_cast<float>(q[b * kInt8Block + j]));
      }
    }
  });
}

}  // namespace

at::Tensor DequantizeInt8(const Int8Weight& weight, at::ScalarType dtype) {
  at::Tensor out = at::empty(weight.values.sizes(), weight.values.options().dtype(dtype));
  if (dtype == at::kBFloat16) {
    DequantizeBlocks(weight, reinterpret_cast<uint16_t*>(out.data_ptr()), RoundToBf16);
  } else if (dtype == at::kFloat) {
    DequantizeBlocks(weight, out.data_ptr<float>(), [](float v) { return v; });
  } else {
    out.copy_(DequantizeInt8(weight, at::kFloat));
  }
  return out;
}

}  // namespace lmeye
