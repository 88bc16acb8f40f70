#include "model/llm/decode_attention.h"

#include <algorithm>
#include <cmath>
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

// Lanes of the accumulators: the fixed-width inner loops below compile to whole vector
// registers without -ffast-math, which a plain running sum would need before the compiler could
// reorder it.
constexpr int64_t kLanes = 16;

// The accumulator of dot products: float for bf16 (whose inputs carry 8 bits), double for
// float32, whose results are held to Hugging Face's within 1e-5 (tests/llm goldens) and whose
// rounding would otherwise differ from the BLAS's summation order by about as much.
template <typename T>
struct Accumulator {
  using type = float;
};
template <>
struct Accumulator<float> {
  using type = double;
};

// Scores of kRows consecutive keys, k rows of D: out[r] = sum_d q[d] * k[r * D + d], q in float.
// Four keys at once give four independent accumulator chains, where one key at a time would wait
// on the latency of each add; one key is for the tail of L. D is a compile-time constant when the
// caller's is (always inlined), and the loops unroll over it.
template <int64_t kRows, typename T>
LMEYE_INLINE void DotRows(const float* __restrict q, const T* __restrict k, int64_t D, float* out) {
  using Acc = typename Accumulator<T>::type;
  Acc lanes[kRows][kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes) {
    for (int64_t r = 0; r < kRows; ++r) {
      for (int64_t i = 0; i < kLanes; ++i) {
        lanes[r][i] += static_cast<Acc>(q[d + i]) * static_cast<Acc>(ToFloat(k[r * D + d + i]));
      }
    }
  }
  for (; d < D; ++d) {
    for (int64_t r = 0; r < kRows; ++r) {
      lanes[r][0] += static_cast<Acc>(q[d]) * static_cast<Acc>(ToFloat(k[r * D + d]));
    }
  }
  for (int64_t r = 0; r < kRows; ++r) {
    Acc sum = 0;
    for (int64_t i = 0; i < kLanes; ++i) sum += lanes[r][i];
    out[r] = static_cast<float>(sum);
  }
}

// Asks for n elements from p on into the cache. A task's keys (and values) are one block of
// L rows, a few KiB: the hardware prefetchers, which stop at 4 KiB pages, leave most of it to
// demand misses, and a decode step's cache was evicted by the weights streamed since the last
// layer. Measured on one thread, cold cache, batch 32, L = 96, D = 64, bf16: 1.34 ms per layer
// with the next task's rows prefetched, 1.55-1.78 ms without.
template <typename T>
LMEYE_INLINE void Prefetch(const T* p, int64_t n) {
  const char* bytes = reinterpret_cast<const char*>(p);
  for (int64_t i = 0; i < n * static_cast<int64_t>(sizeof(T)); i += 64) {
    __builtin_prefetch(bytes + i);
  }
}

// Everything a task needs, type-erased so that the per-ISA clones below are plain functions.
struct AttendArgs {
  const void* q;  // [B, 1, H, D], rows q_row apart, heads q_head apart
  const void* k_cache;
  const void* v_cache;   // [n_slots, Hkv, capacity, D]
  const void* bias;      // [B * Hkv, G, >= L], rows bias_row apart, groups bias_group apart
  void* out;             // [B, 1, H, D] contiguous
  const int64_t* slots;  // [B]
  int64_t H, Hkv, G, D, L, capacity, q_row, q_head, bias_row, bias_group;
  float alpha;
};

// Tasks [begin, end); a task is one row and KV head, whose G query heads share the keys and
// values just read. kD = the head dim when it is one of the common ones (a compile-time
// constant keeps a head's accumulators in registers), 0 for any other (read from `a`).
template <typename T, int64_t kD>
LMEYE_INLINE void AttendTasks(const AttendArgs& a, int64_t begin, int64_t end) {
  const int64_t D = kD > 0 ? kD : a.D, L = a.L;
  const T* q_data = static_cast<const T*>(a.q);
  const T* k_data = static_cast<const T*>(a.k_cache);
  const T* v_data = static_cast<const T*>(a.v_cache);
  const T* bias_data = static_cast<const T*>(a.bias);
  T* out_data = static_cast<T*>(a.out);
  std::vector<float> scores(L), q_heap(kD > 0 ? 0 : D), acc_heap(kD > 0 ? 0 : D);
  alignas(64) float q_fixed[kD > 0 ? kD : 1], acc_fixed[kD > 0 ? kD : 1];
  float* qf = kD > 0 ? q_fixed : q_heap.data();
  float* acc = kD > 0 ? acc_fixed : acc_heap.data();
  for (int64_t task = begin; task < end; ++task) {
    const int64_t b = task / a.Hkv, g = task % a.Hkv;
    const int64_t cache_offset = (a.slots[b] * a.Hkv + g) * a.capacity * D;
    const T* keys = k_data + cache_offset;  // [capacity, D]
    const T* values = v_data + cache_offset;
    const T *next_keys = nullptr, *next_values = nullptr;
    if (task + 1 < end) {
      const int64_t next_offset =
          (a.slots[(task + 1) / a.Hkv] * a.Hkv + (task + 1) % a.Hkv) * a.capacity * D;
      next_keys = k_data + next_offset;
      next_values = v_data + next_offset;
    }
    for (int64_t i = 0; i < a.G; ++i) {
      const int64_t h = g * a.G + i;
      const T* qh = q_data + b * a.q_row + h * a.q_head;
      for (int64_t d = 0; d < D; ++d) qf[d] = ToFloat(qh[d]);
      const T* bias = bias_data + task * a.bias_row + i * a.bias_group;
      int64_t j = 0;
      for (; j + 4 <= L; j += 4) {
        if (i == 0 && next_keys != nullptr) {  // the next task's rows, one task ahead
          Prefetch(next_keys + j * D, 4 * D);
          Prefetch(next_values + j * D, 4 * D);
        }
        DotRows<4>(qf, keys + j * D, D, &scores[j]);
      }
      if (i == 0 && next_keys != nullptr) {
        Prefetch(next_keys + j * D, (L - j) * D);
        Prefetch(next_values + j * D, (L - j) * D);
      }
      for (; j < L; ++j) DotRows<1>(qf, keys + j * D, D, &scores[j]);
      float max = -std::numeric_limits<float>::infinity();
      for (j = 0; j < L; ++j) {
        scores[j] = Round<T>(a.alpha * scores[j] + ToFloat(bias[j]));
        max = std::max(max, scores[j]);
      }
      float sum = 0;
      for (j = 0; j < L; ++j) {
        scores[j] = std::exp(scores[j] - max);
        sum += scores[j];
      }
      for (int64_t d = 0; d < D; ++d) acc[d] = 0;
      for (j = 0; j < L; ++j) {
        const float p = Round<T>(scores[j] / sum);
        if (p == 0) continue;  // a masked key weighs exactly 0
        const T* v = values + j * D;
        for (int64_t d = 0; d < D; ++d) acc[d] += p * ToFloat(v[d]);
      }
      T* o = out_data + (b * a.H + h) * D;
      for (int64_t d = 0; d < D; ++d) o[d] = static_cast<T>(acc[d]);
    }
  }
}

template <typename T>
LMEYE_INLINE void AttendTasksAnyDim(const AttendArgs& a, int64_t begin, int64_t end) {
  switch (a.D) {
    case 64:
      return AttendTasks<T, 64>(a, begin, end);
    case 128:
      return AttendTasks<T, 128>(a, begin, end);
    default:
      return AttendTasks<T, 0>(a, begin, end);
  }
}

LMEYE_ISA_CLONES void AttendTasksBf16(const AttendArgs& a, int64_t begin, int64_t end) {
  AttendTasksAnyDim<c10::BFloat16>(a, begin, end);
}
LMEYE_ISA_CLONES void AttendTasksFloat(const AttendArgs& a, int64_t begin, int64_t end) {
  AttendTasksAnyDim<float>(a, begin, end);
}

}  // namespace

bool DecodeAttentionSupported(const at::Tensor& q, const at::Tensor& k_cache,
                              const at::Tensor& v_cache) {
  const at::ScalarType t = q.scalar_type();
  return q.device().is_cpu() && (t == at::kFloat || t == at::kBFloat16) &&
         !c10::GradMode::is_enabled() && k_cache.scalar_type() == t && k_cache.is_contiguous() &&
         v_cache.is_contiguous();
}

at::Tensor DecodeAttention(const at::Tensor& q_in, const at::Tensor& k_cache,
                           const at::Tensor& v_cache, const std::vector<int64_t>& slots,
                           const at::Tensor& score_bias_in, int64_t n_keys, double alpha) {
  TORCH_CHECK(q_in.dim() == 4 && q_in.size(1) == 1, "DecodeAttention: q must be [B, 1, H, D]");
  TORCH_CHECK(static_cast<int64_t>(slots.size()) == q_in.size(0),
              "DecodeAttention: one slot per row");
  RECORD_FUNCTION("lmeye::DecodeAttention", std::vector<c10::IValue>());  // named in profiles
  const at::Tensor q = q_in.stride(3) == 1 ? q_in : q_in.contiguous();
  const at::Tensor bias = score_bias_in.stride(2) == 1 ? score_bias_in : score_bias_in.contiguous();
  const int64_t B = q.size(0), H = q.size(2), D = q.size(3), Hkv = k_cache.size(1);
  at::Tensor out = at::empty({B, 1, H, D}, q.options());
  const AttendArgs args{q.data_ptr(),
                        k_cache.data_ptr(),
                        v_cache.data_ptr(),
                        bias.data_ptr(),
                        out.data_ptr(),
                        slots.data(),
                        H,
                        Hkv,
                        H / Hkv,
                        D,
                        n_keys,
                        k_cache.size(2),
                        q.stride(0),
                        q.stride(2),
                        bias.stride(0),
                        bias.stride(1),
                        static_cast<float>(alpha)};
  const bool bf16 = q.scalar_type() == at::kBFloat16;
  at::parallel_for(0, B * Hkv, 1, [&](int64_t begin, int64_t end) {
    if (bf16) {
      AttendTasksBf16(args, begin, end);
    } else {
      AttendTasksFloat(args, begin, end);
    }
  });
  return out.view({B, 1, H * D});
}

namespace {

void WriteRows(const at::Tensor& cache, const std::vector<int64_t>& slots,
               const std::vector<int64_t>& positions, const at::Tensor& rows) {
  const int64_t B = rows.size(0), Hkv = rows.size(1), D = rows.size(2);
  TORCH_CHECK(rows.scalar_type() == cache.scalar_type() && rows.stride(2) == 1 &&
                  cache.is_contiguous() && cache.dim() == 4 && cache.size(1) == Hkv &&
                  cache.size(3) == D,
              "WriteDecodeKv: rows [B, Hkv, D] of the cache's dtype with a contiguous last dim");
  const int64_t capacity = cache.size(2);
  const size_t bytes = D * rows.element_size();
  char* base = static_cast<char*>(cache.data_ptr());
  const char* src = static_cast<const char*>(rows.data_ptr());
  const int64_t row_stride = rows.stride(0) * rows.element_size();
  const int64_t head_stride = rows.stride(1) * rows.element_size();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hkv; ++h) {
      const int64_t at = ((slots[b] * Hkv + h) * capacity + positions[b]) * D;
      std::memcpy(base + at * rows.element_size(), src + b * row_stride + h * head_stride, bytes);
    }
  }
}

}  // namespace

void WriteDecodeKv(const at::Tensor& k_cache, const at::Tensor& v_cache,
                   const std::vector<int64_t>& slots, const std::vector<int64_t>& positions,
                   const at::Tensor& k_new, const at::Tensor& v_new) {
  const int64_t B = k_new.size(0);
  TORCH_CHECK(k_new.dim() == 3 && v_new.sizes() == k_new.sizes() &&
                  static_cast<int64_t>(slots.size()) == B &&
                  static_cast<int64_t>(positions.size()) == B,
              "WriteDecodeKv: k_new and v_new [B, Hkv, D], one slot and position per row");
  for (int64_t b = 0; b < B; ++b) {
    TORCH_CHECK(slots[b] >= 0 && slots[b] < k_cache.size(0) && positions[b] >= 0 &&
                    positions[b] < k_cache.size(2),
                "WriteDecodeKv: row ", b, " writes slot ", slots[b], " position ", positions[b],
                " of a cache of ", k_cache.size(0), " slots x ", k_cache.size(2), " positions");
  }
  WriteRows(k_cache, slots, positions, k_new);
  WriteRows(v_cache, slots, positions, v_new);
}

}  // namespace lmeye
