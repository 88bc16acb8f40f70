#include "model/llm/cpu_norm_rope.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <c10/util/BFloat16.h>

#include "model/common/cpu_kernel.h"
#include "model/llm/cpu_convert.h"

namespace lmeye {
namespace {

// Lanes of the sum of squares: fixed-width partial sums the vectoriser keeps in a register.
constexpr int64_t kLanes = 16;

bool NoGradient(const at::Tensor& x) { return !c10::GradMode::is_enabled() || !x.requires_grad(); }

bool CpuComputeType(const at::Tensor& x) {
  return x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

// Elements per parallel task: a thread's start-up (microseconds) small beside its share.
int64_t GrainRows(int64_t elements_per_row) {
  return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, elements_per_row));
}

template <typename T>
LMEYE_INLINE void RmsNormRows(const T* x, int64_t x_row, const T* w, T* out, int64_t dim, float eps,
                              int64_t begin, int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    const T* xr = x + row * x_row;
    float lanes[kLanes] = {};
    int64_t d = 0;
    for (; d + kLanes <= dim; d += kLanes) {
      for (int64_t i = 0; i < kLanes; ++i) lanes[i] += ToFloat(xr[d + i]) * ToFloat(xr[d + i]);
    }
    float sum = 0;
    for (int64_t i = 0; i < kLanes; ++i) sum += lanes[i];
    for (; d < dim; ++d) sum += ToFloat(xr[d]) * ToFloat(xr[d]);
    // float32 mean and rsqrt, as h.pow(2).mean(-1) + eps and at::rsqrt in float32 do.
    const float scale = 1.0f / std::sqrt(sum / static_cast<float>(dim) + eps);
    T* o = out + row * dim;
    for (d = 0; d < dim; ++d) {
      o[d] = static_cast<T>(ToFloat(w[d]) * Round<T>(ToFloat(xr[d]) * scale));
    }
  }
}

LMEYE_ISA_CLONES void RmsNormBf16(const c10::BFloat16* x, int64_t x_row, const c10::BFloat16* w,
                                  c10::BFloat16* out, int64_t dim, float eps, int64_t begin,
                                  int64_t end) {
  RmsNormRows(x, x_row, w, out, dim, eps, begin, end);
}
LMEYE_ISA_CLONES void RmsNormFloat(const float* x, int64_t x_row, const float* w, float* out,
                                   int64_t dim, float eps, int64_t begin, int64_t end) {
  RmsNormRows(x, x_row, w, out, dim, eps, begin, end);
}

// Strides of x [B, T, heads, D] and cos/sin [B, T, 1, D], last dims contiguous.
struct RopeArgs {
  const void* x;
  const void* cos;
  const void* sin;
  void* out;  // [B, T, heads, D] contiguous
  int64_t T, heads, D, x_b, x_t, x_h, c_b, c_t;
};

// Rows [begin, end) of (b, t, head); rotate_half(x) = [-x2, x1] of its two halves.
template <typename T>
LMEYE_INLINE void RopeRows(const RopeArgs& a, int64_t begin, int64_t end) {
  const T* x = static_cast<const T*>(a.x);
  const T* cos = static_cast<const T*>(a.cos);
  const T* sin = static_cast<const T*>(a.sin);
  T* out = static_cast<T*>(a.out);
  const int64_t half = a.D / 2;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t h = row % a.heads, bt = row / a.heads, t = bt % a.T, b = bt / a.T;
    const T* xr = x + b * a.x_b + t * a.x_t + h * a.x_h;
    const T* c = cos + b * a.c_b + t * a.c_t;
    const T* s = sin + b * a.c_b + t * a.c_t;
    T* o = out + row * a.D;
    for (int64_t d = 0; d < half; ++d) {
      const float rotated = -ToFloat(xr[d + half]);
      o[d] = static_cast<T>(Round<T>(ToFloat(xr[d]) * ToFloat(c[d])) +
                            Round<T>(rotated * ToFloat(s[d])));
    }
    for (int64_t d = half; d < a.D; ++d) {
      const float rotated = ToFloat(xr[d - half]);
      o[d] = static_cast<T>(Round<T>(ToFloat(xr[d]) * ToFloat(c[d])) +
                            Round<T>(rotated * ToFloat(s[d])));
    }
  }
}

LMEYE_ISA_CLONES void RopeBf16(const RopeArgs& a, int64_t begin, int64_t end) {
  RopeRows<c10::BFloat16>(a, begin, end);
}
LMEYE_ISA_CLONES void RopeFloat(const RopeArgs& a, int64_t begin, int64_t end) {
  RopeRows<float>(a, begin, end);
}

}  // namespace

bool CpuRmsNormSupported(const at::Tensor& x, const at::Tensor& weight) {
  return CpuComputeType(x) && x.dim() >= 1 && x.size(-1) > 0 && x.stride(-1) == 1 &&
         weight.defined() && weight.dim() == 1 && weight.size(0) == x.size(-1) &&
         weight.scalar_type() == x.scalar_type() && weight.is_contiguous() &&
         weight.device().is_cpu() && NoGradient(x) && NoGradient(weight);
}

at::Tensor CpuRmsNorm(const at::Tensor& x_in, const at::Tensor& weight, double eps) {
  TORCH_CHECK(CpuRmsNormSupported(x_in, weight), "CpuRmsNorm: unsupported inputs");
  const int64_t dim = x_in.size(-1), rows = x_in.numel() / dim;
  const at::Tensor x = x_in.reshape({rows, dim});
  at::Tensor out = at::empty(x_in.sizes(), x_in.options());
  const int64_t x_row = x.stride(0);
  const float e = static_cast<float>(eps);
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  at::parallel_for(0, rows, GrainRows(dim), [&](int64_t begin, int64_t end) {
    if (bf16) {
      RmsNormBf16(x.data_ptr<c10::BFloat16>(), x_row, weight.data_ptr<c10::BFloat16>(),
                  out.data_ptr<c10::BFloat16>(), dim, e, begin, end);
    } else {
      RmsNormFloat(x.data_ptr<float>(), x_row, weight.data_ptr<float>(), out.data_ptr<float>(), dim,
                   e, begin, end);
    }
  });
  return out;
}

bool CpuRopeSupported(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  if (!CpuComputeType(x) || x.dim() != 4 || x.stride(3) != 1 || x.size(3) % 2 != 0 ||
      !NoGradient(x)) {
    return false;
  }
  for (const at::Tensor* t : {&cos, &sin}) {
    if (t->dim() != 4 || t->scalar_type() != x.scalar_type() || !t->device().is_cpu() ||
        t->size(0) != x.size(0) || t->size(1) != x.size(1) || t->size(2) != 1 ||
        t->size(3) != x.size(3) || t->stride(3) != 1) {
      return false;
    }
  }
  return cos.strides() == sin.strides();
}

at::Tensor CpuRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  TORCH_CHECK(CpuRopeSupported(x, cos, sin), "CpuRope: unsupported inputs");
  const int64_t B = x.size(0), T = x.size(1), heads = x.size(2), D = x.size(3);
  at::Tensor out = at::empty({B, T, heads, D}, x.options());
  const RopeArgs args{
      x.data_ptr(), cos.data_ptr(), sin.data_ptr(), out.data_ptr(), T, heads, D, x.stride(0),
      x.stride(1),  x.stride(2),    cos.stride(0),  cos.stride(1)};
  const bool bf16 = x.scalar_type() == at::kBFloat16;
  at::parallel_for(0, B * T * heads, GrainRows(D), [&](int64_t begin, int64_t end) {
    if (bf16) {
      RopeBf16(args, begin, end);
    } else {
      RopeFloat(args, begin, end);
    }
  });
  return out;
}

}  // namespace lmeye
