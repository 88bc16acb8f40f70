#include "model/llm/int8_weight.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include "model/common/cpu_kernel.h"
#include "model/llm/cpu_convert.h"

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

LMEYE_INLINE Floats Dequantize16(const int8_t* q, float d) { return Load16(q) * d; }

LMEYE_INLINE void Store16(const Floats& v, float* out) { std::memcpy(out, &v, sizeof(v)); }
// Round to nearest even, as c10::BFloat16 does for the finite values a weight has, on the bits.
LMEYE_INLINE void Store16(const Floats& v, uint16_t* out) {
  Words u;
  std::memcpy(&u, &v, sizeof(u));
  const Halves h = __builtin_convertvector((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16, Halves);
  std::memcpy(out, &h, sizeof(h));
}

// Blocks [first, first + count) of the weight (row-major, kInt8Block values each) into out.
template <typename O>
LMEYE_INLINE void DequantizeBlocks(const int8_t* q, const float* s, int64_t first, int64_t count,
                                   O* out) {
  static_assert(kInt8Block % kVectorLanes == 0);
  for (int64_t b = 0; b < count; ++b) {
    const float d = s[first + b];
    const int8_t* qb = q + (first + b) * kInt8Block;
    for (int64_t j = 0; j < kInt8Block; j += kVectorLanes)
      Store16(Dequantize16(qb + j, d), out + b * kInt8Block + j);
  }
}

LMEYE_ISA_CLONES void DequantizeBf16(const int8_t* q, const float* s, int64_t first, int64_t count,
                                     uint16_t* out) {
  DequantizeBlocks(q, s, first, count, out);
}
LMEYE_ISA_CLONES void DequantizeFloat(const int8_t* q, const float* s, int64_t first, int64_t count,
                                      float* out) {
  DequantizeBlocks(q, s, first, count, out);
}

// Blocks [first, first + count) into out (float32 or bf16), block `first` at out's start.
void DequantizeRange(const Int8Weight& weight, int64_t first, int64_t count, at::ScalarType dtype,
                     void* out) {
  const int8_t* q = weight.values.data_ptr<int8_t>();
  const float* s = weight.scales.data_ptr<float>();
  if (dtype == at::kBFloat16) {
    DequantizeBf16(q, s, first, count, static_cast<uint16_t*>(out));
  } else {
    TORCH_CHECK(dtype == at::kFloat, "DequantizeInt8Rows: float32 or bf16, got ", dtype);
    DequantizeFloat(q, s, first, count, static_cast<float*>(out));
  }
}

}  // namespace

at::Tensor DequantizeInt8(const Int8Weight& weight, at::ScalarType dtype) {
  if (dtype != at::kBFloat16 && dtype != at::kFloat) {
    return DequantizeInt8(weight, at::kFloat).to(dtype);
  }
  at::Tensor out = at::empty(weight.values.sizes(), weight.values.options().dtype(dtype));
  char* base = static_cast<char*>(out.data_ptr());
  const int64_t block_bytes = kInt8Block * out.element_size();
  at::parallel_for(0, weight.scales.numel(), 2048, [&](int64_t begin, int64_t end) {
    DequantizeRange(weight, begin, end - begin, dtype, base + begin * block_bytes);
  });
  return out;
}

void DequantizeInt8Rows(const Int8Weight& weight, int64_t n0, int64_t n, at::ScalarType dtype,
                        void* out) {
  const int64_t blocks_per_row = weight.scales.size(1);
  DequantizeRange(weight, n0 * blocks_per_row, n * blocks_per_row, dtype, out);
}

}  // namespace lmeye
