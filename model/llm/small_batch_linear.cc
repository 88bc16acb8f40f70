#include "model/llm/small_batch_linear.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <c10/core/GradMode.h>
#include <c10/util/BFloat16.h>

#include "model/common/cpu_kernel.h"
#include "model/llm/cpu_convert.h"

namespace lmeye {
namespace {

// Weight rows per block: independent accumulator chains, and x's vector loaded once for them.
constexpr int64_t kBlockRows = 4;
// Activation rows per pass over a weight block: kChunkRows x kBlockRows accumulators fill the
// vector registers. More rows run as further passes over the same block, which is then in L1.
constexpr int64_t kChunkRows = 4;

LMEYE_INLINE float Widen(float w) { return w; }
LMEYE_INLINE float Widen(uint16_t bits) {
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// The weight rows of one block as the dot products read them: 16 consecutive weights of row
// r from column k, in float.
template <typename W>
struct DenseRows {
  const W* w;  // [rows, K]
  int64_t K;
  LMEYE_INLINE Floats Load16(int64_t r, int64_t k) const { return lmeye::Load16(w + r * K + k); }
  LMEYE_INLINE float At(int64_t r, int64_t k) const { return Widen(w[r * K + k]); }
  // Two 16-weight loads of bf16 share a cache line, four of float: one prefetch per load is
  // at most two per line.
  LMEYE_INLINE void Prefetch(int64_t r, int64_t k) const {
    __builtin_prefetch(w + r * K + k, 0, 2);
  }
  LMEYE_INLINE DenseRows From(int64_t n0) const { return {w + n0 * K, K}; }
};

// int8 values and their per-block scales (int8_weight.h); K is a multiple of kInt8Block.
// kSignExtendAsm: 16 values widened by AVX-512's one instruction for it (vpmovsxbd), for the
// AVX-512 copy of the kernel only; GCC 12 lowers the same widening written with vectors to
// int16 halves and lane inserts, three times the instructions, which bound the decode step.
template <bool kSignExtendAsm>
struct Int8Rows {
  const int8_t* q;  // [rows, K]
  const float* s;   // [rows, K / kInt8Block]
  int64_t K;
  LMEYE_INLINE Floats Load16(int64_t r, int64_t k) const {
    const float scale = s[r * (K / kInt8Block) + k / kInt8Block];
    if constexpr (kSignExtendAsm) {
      Ints i;
      asm("vpmovsxbd %1, %0"
          : "=v"(i)
          : "m"(*reinterpret_cast<const int8_t(*)[16]>(q + r * K + k)));
      return __builtin_convertvector(i, Floats) * scale;
    } else {
      return lmeye::Load16(q + r * K + k) * scale;
    }
  }
  LMEYE_INLINE float At(int64_t r, int64_t k) const {
    return s[r * (K / kInt8Block) + k / kInt8Block] * static_cast<float>(q[r * K + k]);
  }
  // Four 16-byte loads per cache line: one prefetch for them.
  LMEYE_INLINE void Prefetch(int64_t r, int64_t k) const {
    if ((k & 63) == 0) __builtin_prefetch(q + r * K + k, 0, 2);
  }
  LMEYE_INLINE Int8Rows From(int64_t n0) const {
    return {q + n0 * K, s + n0 * (K / kInt8Block), K};
  }
};

// out[m * kBlockRows + r] = sum_k x[m * x_row + k] * w(r, k): kR weight rows against kM
// activation rows, each weight element read once.
template <int64_t kM, int64_t kR, typename Rows>
LMEYE_INLINE void DotBlock(const float* __restrict x, int64_t x_row, const Rows& w, int64_t K,
                           float* __restrict out) {
  Floats acc[kM][kR];
  for (int64_t m = 0; m < kM; ++m) {
    for (int64_t r = 0; r < kR; ++r) acc[m][r] = Floats{};
  }
  int64_t k = 0;
  for (; k + kVectorLanes <= K; k += kVectorLanes) {
    Floats wv[kR];
    for (int64_t r = 0; r < kR; ++r) {
      w.Prefetch(kBlockRows + r, k);  // the next block's rows, one block ahead
      wv[r] = w.Load16(r, k);
    }
    for (int64_t m = 0; m < kM; ++m) {
      const Floats xv = Load16(x + m * x_row + k);
      for (int64_t r = 0; r < kR; ++r) acc[m][r] += xv * wv[r];
    }
  }
  for (int64_t m = 0; m < kM; ++m) {
    for (int64_t r = 0; r < kR; ++r) {
      float sum = 0;
      for (int64_t i = 0; i < kVectorLanes; ++i) sum += acc[m][r][i];
      for (int64_t j = k; j < K; ++j) sum += x[m * x_row + j] * w.At(r, j);
      out[m * kBlockRows + r] = sum;
    }
  }
}

// kR rows of the block against rows [0, M) of x, in passes of at most kChunkRows.
template <int64_t kR, typename Rows>
LMEYE_INLINE void DotRows(const float* x, int64_t x_row, int64_t M, const Rows& w, int64_t K,
                          float* out) {
  for (int64_t m0 = 0; m0 < M; m0 += kChunkRows) {
    const float* xm = x + m0 * x_row;
    float* o = out + m0 * kBlockRows;
    switch (std::min(kChunkRows, M - m0)) {
      case 1:
        DotBlock<1, kR>(xm, x_row, w, K, o);
        break;
      case 2:
        DotBlock<2, kR>(xm, x_row, w, K, o);
        break;
      case 3:
        DotBlock<3, kR>(xm, x_row, w, K, o);
        break;
      default:
        DotBlock<4, kR>(xm, x_row, w, K, o);
        break;
    }
  }
}

// What a task needs, type-erased so that the per-ISA clones below are plain functions.
struct LinearArgs {
  const float* x;       // [M, K], rows x_row apart, float
  const void* w;        // [N, K] contiguous: W, or int8 values
  const float* scales;  // int8 only: [N, K / kInt8Block]
  const void* b;        // [N] or null, of y's type
  void* y;              // [M, N] contiguous, float or bf16
  int64_t M, N, K, x_row;
};

LMEYE_INLINE void Store(float v, float* y) { *y = v; }
LMEYE_INLINE void Store(float v, uint16_t* y) {
  const c10::BFloat16 b(v);  // round to nearest even, as libtorch rounds a float result
  *y = b.x;
}

// Weight rows [begin * kBlockRows, end * kBlockRows) clipped to N, for every activation row;
// O is the type of the bias and the output.
template <typename O, typename Rows>
LMEYE_INLINE void RowsOf(const LinearArgs& a, const Rows& w, int64_t begin, int64_t end) {
  const O* bias = static_cast<const O*>(a.b);
  O* y = static_cast<O*>(a.y);
  float out[kSmallBatchMaxRowsInt8 * kBlockRows];
  for (int64_t block = begin; block < end; ++block) {
    const int64_t n0 = block * kBlockRows;
    const int64_t rows = std::min(kBlockRows, a.N - n0);
    if (rows == kBlockRows) {
      DotRows<kBlockRows>(a.x, a.x_row, a.M, w.From(n0), a.K, out);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        float one[kSmallBatchMaxRowsInt8 * kBlockRows];
        DotRows<1>(a.x, a.x_row, a.M, w.From(n0 + r), a.K, one);
        for (int64_t m = 0; m < a.M; ++m) out[m * kBlockRows + r] = one[m * kBlockRows];
      }
    }
    for (int64_t m = 0; m < a.M; ++m) {
      for (int64_t r = 0; r < rows; ++r) {
        const float b = bias != nullptr ? Widen(bias[n0 + r]) : 0.0f;
        Store(out[m * kBlockRows + r] + b, y + m * a.N + n0 + r);
      }
    }
  }
}

LMEYE_ISA_CLONES void RowsBf16(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsOf<uint16_t>(a, DenseRows<uint16_t>{static_cast<const uint16_t*>(a.w), a.K}, begin, end);
}
LMEYE_ISA_CLONES void RowsFloat(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsOf<float>(a, DenseRows<float>{static_cast<const float*>(a.w), a.K}, begin, end);
}
LMEYE_ISA_CLONES void RowsInt8Bf16(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsOf<uint16_t>(a, Int8Rows<false>{static_cast<const int8_t*>(a.w), a.scales, a.K}, begin, end);
}
LMEYE_ISA_CLONES void RowsInt8Float(const LinearArgs& a, int64_t begin, int64_t end) {
  RowsOf<float>(a, Int8Rows<false>{static_cast<const int8_t*>(a.w), a.scales, a.K}, begin, end);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LMEYE_KERNEL_AVX512 1
__attribute__((target("avx512f"))) void RowsInt8Bf16Avx512(const LinearArgs& a, int64_t begin,
                                                           int64_t end) {
  RowsOf<uint16_t>(a, Int8Rows<true>{static_cast<const int8_t*>(a.w), a.scales, a.K}, begin, end);
}
__attribute__((target("avx512f"))) void RowsInt8FloatAvx512(const LinearArgs& a, int64_t begin,
                                                            int64_t end) {
  RowsOf<float>(a, Int8Rows<true>{static_cast<const int8_t*>(a.w), a.scales, a.K}, begin, end);
}
#endif

// The int8 rows function for this CPU: the AVX-512 copy (its inline assembly needs it) where
// the CPU has it, else the ISA clones.
void RowsInt8(const LinearArgs& a, int64_t begin, int64_t end, bool bf16) {
#ifdef LMEYE_KERNEL_AVX512
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) {
    bf16 ? RowsInt8Bf16Avx512(a, begin, end) : RowsInt8FloatAvx512(a, begin, end);
    return;
  }
#endif
  bf16 ? RowsInt8Bf16(a, begin, end) : RowsInt8Float(a, begin, end);
}

// linear(x, W)'s shape for W [N, K]: x's leading dims and N columns.
std::vector<int64_t> OutputSizes(const at::Tensor& x, int64_t N) {
  std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
  sizes.back() = N;
  return sizes;
}

// Rows of x (float or bf16, leading dims flattened) when `x` fits the kernels, else 0.
int64_t KernelRows(const at::Tensor& x, int64_t K, int64_t max_rows) {
  const at::ScalarType t = x.scalar_type();
  if (!x.device().is_cpu() || (t != at::kFloat && t != at::kBFloat16) || x.dim() < 1 ||
      x.size(-1) != K || K <= 0) {
    return 0;
  }
  const int64_t M = x.numel() / K;
  return M >= 1 && M <= max_rows ? M : 0;
}

bool BiasFits(const at::Tensor& bias, int64_t N, at::ScalarType t) {
  return !bias.defined() || (bias.dim() == 1 && bias.size(0) == N && bias.scalar_type() == t &&
                             bias.is_contiguous() && bias.device().is_cpu());
}

// Runs `rows(args, begin, end)` over the weight's row blocks on libtorch's threads; y has x's
// leading dims and N columns, in x's dtype.
template <typename Fn>
at::Tensor RunKernel(const at::Tensor& x_in, const void* w, const float* scales, int64_t N,
                     const at::Tensor& bias, Fn rows) {
  RECORD_FUNCTION("lmeye::SmallBatchLinear", std::vector<c10::IValue>());  // named in profiles
  const int64_t K = x_in.size(-1), M = x_in.numel() / K;
  at::Tensor x = x_in.reshape({M, K});
  // The activations in float, once: a few KiB, read from L1 by every weight block.
  at::Tensor xf = x.scalar_type() == at::kFloat && x.stride(1) == 1 ? x : x.to(at::kFloat);
  if (xf.stride(1) != 1) xf = xf.contiguous();
  at::Tensor y = at::empty(OutputSizes(x_in, N), x_in.options());
  const LinearArgs args{xf.data_ptr<float>(), w, scales, bias.defined() ? bias.data_ptr() : nullptr,
                        y.data_ptr(),         M, N,      K,
                        xf.stride(0)};
  const int64_t blocks = (N + kBlockRows - 1) / kBlockRows;
  // Enough weight per task that a thread's start-up (a few microseconds) is small beside it.
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (kBlockRows * K));
  at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) { rows(args, begin, end); });
  return y;
}

// The GEMM route for int8 weights and many rows: the weight dequantized a tile of rows at a
// time, into a buffer of the thread's own, and multiplied there by at::linear (single-threaded
// inside the parallel loop). Dequantizing the whole weight first writes twice its int8 size to
// memory and reads it back on every call: at batch 32 on a 1.1B model that cost more than the
// GEMMs. A tile of about kTileBytes stays in the core's L2 between the two.
constexpr int64_t kTileBytes = int64_t{1} << 19;

bool TiledInt8LinearSupported(const at::Tensor& x, const Int8Weight& weight,
                              const at::Tensor& bias) {
  if (c10::GradMode::is_enabled() &&
      (x.requires_grad() || (bias.defined() && bias.requires_grad()))) {
    return false;
  }
  // The kernels' conditions on x, without their bound on its rows.
  return weight.defined() && weight.values.device().is_cpu() &&
         KernelRows(x, weight.in_features(), std::numeric_limits<int64_t>::max()) > 0 &&
         BiasFits(bias, weight.out_features(), x.scalar_type());
}

at::Tensor TiledInt8Linear(const at::Tensor& x_in, const Int8Weight& weight,
                           const at::Tensor& bias) {
  RECORD_FUNCTION("lmeye::TiledInt8Linear", std::vector<c10::IValue>());
  const int64_t K = weight.in_features(), N = weight.out_features();
  const at::Tensor x = x_in.reshape({-1, K}).contiguous();
  const int64_t M = x.size(0);
  at::Tensor y = at::empty({M, N}, x.options());
  // Whole groups of 16 rows (the GEMM's register blocking), at least one group.
  const int64_t tile =
      std::min(N, std::max<int64_t>(16, kTileBytes / (K * x.element_size()) / 16 * 16));
  const int64_t tiles = (N + tile - 1) / tile;
  at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
    at::Tensor buffer = at::empty({tile, K}, x.options());
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n0 = t * tile, n = std::min(tile, N - n0);
      DequantizeInt8Rows(weight, n0, n, x.scalar_type(), buffer.data_ptr());
      at::Tensor b = bias.defined() ? bias.narrow(0, n0, n) : at::Tensor();
      y.narrow(1, n0, n).copy_(at::linear(x, buffer.narrow(0, 0, n), b));
    }
  });
  return y.view(OutputSizes(x_in, N));
}

}  // namespace

bool SmallBatchLinearSupported(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias) {
  if (c10::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return false;
  const at::ScalarType t = x.scalar_type();
  if (weight.dim() != 2 || weight.scalar_type() != t || !weight.is_contiguous() ||
      !weight.device().is_cpu()) {
    return false;
  }
  return KernelRows(x, weight.size(1), kSmallBatchMaxRows) > 0 && BiasFits(bias, weight.size(0), t);
}

at::Tensor SmallBatchLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(SmallBatchLinearSupported(x, weight, bias),
              "SmallBatchLinear: unsupported inputs (see SmallBatchLinearSupported)");
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  return RunKernel(x, weight.data_ptr(), nullptr, weight.size(0), bias,
                   [bf16](const LinearArgs& a, int64_t begin, int64_t end) {
                     bf16 ? RowsBf16(a, begin, end) : RowsFloat(a, begin, end);
                   });
}

at::Tensor ApplyLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  if (SmallBatchLinearSupported(x, weight, bias)) return SmallBatchLinear(x, weight, bias);
  return at::linear(x, weight, bias);
}

bool SmallBatchLinearSupported(const at::Tensor& x, const Int8Weight& weight,
                               const at::Tensor& bias) {
  if (c10::GradMode::is_enabled() && x.requires_grad()) return false;
  return weight.defined() && weight.values.device().is_cpu() &&
         KernelRows(x, weight.in_features(), kSmallBatchMaxRowsInt8) > 0 &&
         BiasFits(bias, weight.out_features(), x.scalar_type());
}

at::Tensor SmallBatchLinear(const at::Tensor& x, const Int8Weight& weight, const at::Tensor& bias) {
  TORCH_CHECK(SmallBatchLinearSupported(x, weight, bias),
              "SmallBatchLinear: unsupported int8 inputs (see SmallBatchLinearSupported)");
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  return RunKernel(
      x, weight.values.data_ptr(), weight.scales.data_ptr<float>(), weight.out_features(), bias,
      [bf16](const LinearArgs& a, int64_t begin, int64_t end) { RowsInt8(a, begin, end, bf16); });
}

at::Tensor ApplyLinear(const at::Tensor& x, const Int8Weight& weight, const at::Tensor& bias) {
  if (SmallBatchLinearSupported(x, weight, bias)) return SmallBatchLinear(x, weight, bias);
  if (TiledInt8LinearSupported(x, weight, bias)) return TiledInt8Linear(x, weight, bias);
  // Autograd (training through the LLM): one GEMM on the dequantized weight, which records it.
  return at::linear(x, DequantizeInt8(weight, x.scalar_type()), bias);
}

}  // namespace lmeye
