#include "model/generate/greedy_rows.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include "absl/strings/str_cat.h"
#include "model/common/cpu_kernel.h"

namespace lmeye {
namespace {

// Vectors of kLanes values (GCC's vector extensions): each ISA clone below lowers them to its
// own registers (one zmm, two ymm or four xmm). Plain loops over arrays did not vectorise for
// bf16 here (the select of the running argmax is "control flow" to GCC 12's vectoriser).
constexpr int64_t kLanes = 16;
typedef float FloatVec __attribute__((vector_size(kLanes * sizeof(float))));
typedef double DoubleVec __attribute__((vector_size(kLanes * sizeof(double))));
typedef int32_t IntVec __attribute__((vector_size(kLanes * sizeof(int32_t))));
typedef uint32_t BitsVec __attribute__((vector_size(kLanes * sizeof(uint32_t))));
typedef uint16_t Bits16Vec __attribute__((vector_size(kLanes * sizeof(uint16_t))));

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

LMEYE_INLINE FloatVec Splat(float x) { return FloatVec{} + x; }

LMEYE_INLINE FloatVec Load(const float* p) {
  FloatVec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
LMEYE_INLINE FloatVec Load(const c10::BFloat16* p) {
  // A bf16 is the top half of its float: widen the bits, no rounding.
  Bits16Vec half;
  std::memcpy(&half, p, sizeof(half));
  return reinterpret_cast<FloatVec>(__builtin_convertvector(half, BitsVec) << 16);
}
LMEYE_INLINE FloatVec Load(const c10::Half* p) {
  float f[kLanes];
  for (int64_t i = 0; i < kLanes; ++i) f[i] = static_cast<float>(p[i]);
  return Load(f);
}

// The last V % kLanes values, padded with -inf: never a maximum, exp 0.
template <typename T>
LMEYE_INLINE FloatVec LoadTail(const T* p, int64_t n) {
  float f[kLanes];
  for (int64_t i = 0; i < kLanes; ++i) f[i] = i < n ? static_cast<float>(p[i]) : kNegInf;
  return Load(f);
}

// exp(x) for x <= 0, to about 2 ulp: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor
// polynomial of degree 7 (truncation below 3e-9 relative), times 2^n built in the exponent bits.
// Under -87 the result is 0 (exp is then < 2^-125, invisible beside the maximum's 1).
// glibc's expf is scalar: a 50k row of it costs more than everything else here.
LMEYE_INLINE FloatVec ExpNonPositive(FloatVec x) {
  const IntVec underflow = x < -87.0f;
  x = underflow ? Splat(-87.0f) : x;
  // Round to nearest with the 1.5 * 2^23 trick: plain adds, which the compiler may not fold
  // without -ffast-math.
  constexpr float kRound = 12582912.0f;
  const FloatVec n = (x * 1.44269504088896341f + kRound) - kRound;
  const FloatVec r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  FloatVec p = Splat(1.0f / 5040);
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const IntVec exponent_bits = (__builtin_convertvector(n, IntVec) + 127) << 23;
  return underflow ? Splat(0.0f) : p * reinterpret_cast<FloatVec>(exponent_bits);
}

// Each lane's first maximum so far and its index (32-bit, as wide as the floats beside it:
// GreedyRows takes V <= 2^31 - 1 - kLanes, so the running index cannot overflow).
struct ArgMaxLanes {
  FloatVec max = Splat(kNegInf);
  IntVec arg = IntVec{} - 1;
  IntVec index = Iota();

  LMEYE_INLINE static IntVec Iota() {
    IntVec out;
    for (int64_t i = 0; i < kLanes; ++i) out[i] = static_cast<int32_t>(i);
    return out;
  }
  LMEYE_INLINE void Scan(FloatVec value) {
    const IntVec better = value > max;  // strict: each lane keeps its first maximum
    max = better ? value : max;
    arg = better ? index : arg;
    index += kLanes;
  }
};

// One row: its argmax and log softmax there. Two passes: the maximum (with its first index),
// then the sum of exp(x - max).
template <typename T>
LMEYE_INLINE SampledToken GreedyRow(const T* __restrict x, int64_t V) {
  const int64_t whole = V - V % kLanes;
  ArgMaxLanes lanes;
  for (int64_t v = 0; v < whole; v += kLanes) lanes.Scan(Load(x + v));
  if (whole < V) lanes.Scan(LoadTail(x + whole, V - whole));
  const FloatVec& lane_max = lanes.max;
  const IntVec& lane_arg = lanes.arg;
  SampledToken out;
  float best = kNegInf;
  for (int64_t i = 0; i < kLanes; ++i) {
    if (lane_arg[i] < 0) continue;
    if (lane_max[i] > best || (lane_max[i] == best && lane_arg[i] < out.token)) {
      best = lane_max[i];
      out.token = lane_arg[i];
    }
  }
  if (out.token < 0 || !std::isfinite(best)) {
    out.token = -1;
    return out;
  }
  // Blocks of kBlock values are summed in float lanes, their totals in double: float lanes
  // across a whole 50k row round the total by up to 4.5e-6 in the log-probability (measured),
  // more than the polynomial does.
  constexpr int64_t kBlock = 32 * kLanes;
  DoubleVec total{};
  FloatVec block{};
  for (int64_t v = 0; v < whole; v += kLanes) {
    block += ExpNonPositive(Load(x + v) - best);
    if ((v + kLanes) % kBlock == 0) {
      total += __builtin_convertvector(block, DoubleVec);
      block = FloatVec{};
    }
  }
  if (whole < V) block += ExpNonPositive(LoadTail(x + whole, V - whole) - best);
  total += __builtin_convertvector(block, DoubleVec);
  double sum = 0.0;
  for (int64_t i = 0; i < kLanes; ++i) sum += total[i];
  // x[token] = best, so x[token] - (best + log(sum)) = -log(sum). NaN entries make the sum NaN,
  // as they make ATen's logsumexp.
  out.logprob = static_cast<float>(-std::log(sum));
  return out;
}

template <typename T>
LMEYE_ISA_CLONES void GreedyRowsOf(const T* x, int64_t row_stride, int64_t V, int64_t begin,
                                   int64_t end, SampledToken* out) {
  for (int64_t b = begin; b < end; ++b) out[b] = GreedyRow(x + b * row_stride, V);
}

template <typename T>
void GreedyAll(const at::Tensor& logits, std::vector<SampledToken>& out) {
  const T* x = logits.data_ptr<T>();
  const int64_t stride = logits.stride(0);
  const int64_t V = logits.size(1);
  // A row is a few tens of microseconds: one row per task is grain enough.
  at::parallel_for(0, logits.size(0), 1, [&](int64_t begin, int64_t end) {
    GreedyRowsOf(x, stride, V, begin, end, out.data());
  });
}

// [B, V] on the CPU with contiguous rows and V within the 32-bit running index.
bool RowsUsable(const at::Tensor& logits) {
  return logits.defined() && logits.dim() == 2 && logits.is_cpu() && logits.size(1) > 0 &&
         logits.size(1) <= std::numeric_limits<int32_t>::max() - kLanes && logits.stride(1) == 1;
}

}  // namespace

bool GreedyRowsSupported(const at::Tensor& logits) {
  if (!RowsUsable(logits)) return false;
  const at::ScalarType t = logits.scalar_type();
  return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf;
}

absl::StatusOr<std::vector<SampledToken>> GreedyRows(const at::Tensor& logits) {
  if (!RowsUsable(logits)) {
    return absl::InvalidArgumentError(
        "GreedyRows needs CPU logits of shape [B, V] with contiguous rows");
  }
  std::vector<SampledToken> out(logits.size(0));
  switch (logits.scalar_type()) {
    case at::kFloat:
      GreedyAll<float>(logits, out);
      break;
    case at::kBFloat16:
      GreedyAll<c10::BFloat16>(logits, out);
      break;
    case at::kHalf:
      GreedyAll<c10::Half>(logits, out);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("GreedyRows: logits of dtype ",
                                                     c10::toString(logits.scalar_type()),
                                                     " (float32, bfloat16 or float16 only)"));
  }
  for (const SampledToken& row : out) {
    if (row.token < 0) return absl::InternalError("sampling: no finite logit to choose from");
  }
  return out;
}

}  // namespace lmeye
