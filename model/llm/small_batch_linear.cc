#include "model/llm/small_batch_linear.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/core/GradMode.h>
#include <c10/util/BFloat16.h>

#include "model/common/cpu_kernel.h"

namespace lmeye {
namespace {

// 16 floats: one AVX-512 register, two AVX2 ones (GCC vector extensions lower to whatever
// the clone's ISA has). Written with vectors, not loops for the vectoriser: with several rows
// of accumulators it spilled them and converted bf16 one element at a time.
typedef float Floats __attribute__((vector_size(64)));
typedef uint32_t Words __attribute__((vector_size(64)));
typedef uint16_t Halves __attribute__((vector_size(32)));
constexpr int64_t kLanes = 16;
// Weight rows per block: independent accumulator chains, and x's vector loaded once for them.
constexpr int64_t kBlockRows = 4;

LMEYE_INLINE Floats Load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
// bf16 is float's upper half: widening is a zero-extension and a shift.
LMEYE_INLINE Floats Load(const uint16_t* p) {
  Halves h;
  std::memcpy(&h, p, sizeof(h));
  const Words w = __builtin_convertvector(h, Words) << 16;
  Floats v;
  std::memcpy(&v, &w, sizeof(v));
  return v;
}

LMEYE_INLINE float Widen(float w) { return w; }
LMEYE_INLINE float Widen(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// out[m * kR + r] = sum_k x[m * x_row + k] * w[r * K + k]: kR weight rows against kM activation
// rows, each weight element read once.
template <int64_t kM, int64_t kR, typename W>
LMEYE_INLINE void DotBlock(const float* __restrict x, int64_t x_row, const W* __restrict w,
                           int64_t K, float* __restrict out) {
  Floats acc[kM][kR];
  for (int64_t m = 0; m < kM; ++m) {
    for (int64_t r = 0; r < kR; ++r) acc[m][r] = Floats{};
  }
  int64_t k = 0;
  for (; k + kLanes <= K; k += kLanes) {
    Floats wv[kR];
    for (int64_t r = 0; r < kR; ++r) {
      __builtin_prefetch(w + (kR + r) * K + k, 0, 2);  // the next block's rows, one block ahead
      wv[r] = Load(w + r * K + k);
    }
    for (int64_t m = 0; m < kM; ++m) {
      const Floats xv = Load(x + m * x_row + k);
      for (int64_t r = 0; r < kR; ++r) acc[m][r] += xv * wv[r];
    }
  }
  for (int64_t m = 0; m < kM; ++m) {
    for (int64_t r = 0; r < kR; ++r) {
      float sum = 0;
      for (int64_t i = 0; i < kLanes; ++i) sum += acc[m][r][i];
      for (int64_t j = k; j < K; ++j) sum += x[m * x_row + j] * Widen(w[r * K + j]);
      out[m * kR + r] = sum;
    }
  }
}

// What a task needs, type-erased so that the per-ISA clones below are plain functions.
struct LinearArgs {
  const float* x;  // [M, K], rows x_row apart, float
  const void* w;   // [N, K] contiguous, W
  const void* b;   // [N] or null, W
  void* y;         // [M, N] contiguous, W
  int64_t M, N, K, x_row;
};

LMEYE_INLINE void Store(float v, float* y) { *y = v; }
LMEYE_INLINE void Store(float v, uint16_t* y) {
  const c10::BFloat16 b(v);  // round to nearest even, as libtorch rounds a float result
  *y = b.x;
}

// Weight rows [begin * kBlockRows, end * kBlockRows) clipped to N, for kM activation rows.
template <int64_t kM, typename W>
LMEYE_INLINE void RowsOf(const LinearArgs& a, int64_t begin, int64_t end) {
  const W* w = static_cast<const W*>(a.w);
  const W* bias = static_cast<const W*>(a.b);
  W* y = static_cast<W*>(a.y);
  float out[kM * kBlockRows];
  for (int64_t block = begin; block < end; ++block) {
    const int64_t n0 = block * kBlockRows;
    const int64_t rows = std::min(kBlockRows, a.N - n0);
    if (rows == kBlockRows) {
      DotBlock<kM, kBlockRows>(a.x, a.x_row, w + n0 * a.K, a.K, out);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        float one[kM];
        DotBlock<kM, 1>(a.x, a.x_row, w + (n0 + r) * a.K, a.K, one);
        for (int64_t m = 0; m < kM; ++m) out[m * kBlockRows + r] = one[m];
      }
    }
    for (int64_t m = 0; m < kM; ++m) {
      for (int64_t r = 0; r < rows; ++r) {
        const float b = bias != nullptr ? Widen(bias[n0 + r]) : 0.0f;
        Store(out[m * kBlockRows + r] + b, y + m * a.N + n0 + r);
      }
    }
  }
}

template <typename W>
LMEYE_INLINE void RowsAnyM(const LinearArgs& a, int64_t begin, int64_t end) {
  switch (a.M) {
    case 1:
      return RowsOf<1, W>(a, begin, end);
    case 2:
      return RowsOf<2, W>(a, begin, end);
    case 3:
      return RowsOf<3, W>(a, begin, end);
    default:
      return RowsOf<4, W>(a, begin, end);
  }
}

LMEYE_ISA_CLONES void RowsBf16(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsAnyM<uint16_t>(a, begin, end);
}
LMEYE_ISA_CLONES void RowsFloat(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsAnyM<float>(a, begin, end);
}

}  // namespace

bool SmallBatchLinearSupported(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias) {
  const at::ScalarType t = x.scalar_type();
  if (!x.device().is_cpu() || (t != at::kFloat && t != at::kBFloat16) || x.dim() < 1) {
    return false;
  }
  if (c10::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return false;
  const int64_t K = x.size(-1);
  if (weight.dim() != 2 || weight.size(1) != K || weight.scalar_type() != t ||
      !weight.is_contiguous() || !weight.device().is_cpu()) {
    return false;
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0) ||
                         bias.scalar_type() != t || !bias.is_contiguous())) {
    return false;
  }
  const int64_t M = K > 0 ? x.numel() / K : 0;
  return M >= 1 && M <= kSmallBatchMaxRows && K > 0;
}

at::Tensor SmallBatchLinear(const at::Tensor& x_in, const at::Tensor& weight,
                            const at::Tensor& bias) {
  TORCH_CHECK(SmallBatchLinearSupported(x_in, weight, bias),
              "SmallBatchLinear: unsupported inputs (see SmallBatchLinearSupported)");
  RECORD_FUNCTION("lmeye::SmallBatchLinear", std::vector<c10::IValue>());  // named in profiles
  const int64_t K = x_in.size(-1), N = weight.size(0), M = x_in.numel() / K;
  at::Tensor x = x_in.reshape({M, K});
  // The activations in float, once: a few KiB, read from L1 by every weight block.
  at::Tensor xf = x.scalar_type() == at::kFloat && x.stride(1) == 1 ? x : x.to(at::kFloat);
  if (xf.stride(1) != 1) xf = xf.contiguous();
  std::vector<int64_t> out_sizes(x_in.sizes().begin(), x_in.sizes().end());
  out_sizes.back() = N;
  at::Tensor y = at::empty(out_sizes, x_in.options());
  const LinearArgs args{xf.data_ptr<float>(),
                        weight.data_ptr(),
                        bias.defined() ? bias.data_ptr() : nullptr,
                        y.data_ptr(),
                        M,
                        N,
                        K,
                        xf.stride(0)};
  const int64_t blocks = (N + kBlockRows - 1) / kBlockRows;
  // Enough weight per task that a thread's start-up (a few microseconds) is small beside it.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (kBlockRows * K));
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) {
    if (bf16) {
      RowsBf16(args, begin, end);
    } else {
      RowsFloat(args, begin, end);
    }
  });
  return y;
}

at::Tensor ApplyLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (SmallBatchLinearSupported(x, weight, bias)) return SmallBatchLinear(x, weight, bias);
  return at::linear(x, weight, bias);
}

}  // namespace lmeye
