// LLaMA's RMS norm and rotary embedding as one loop each on the CPU.
//
// Written with ATen ops, RMS norm is eight ops and a rotary embedding six, each a pass over a
// few KiB and a few microseconds of dispatch: at one decode row per step that dispatch, not the
// arithmetic, is their cost, paid twice per layer. These loops give the same values: every
// rounding the ATen sequence makes (to bf16 between ops) is made here too, so only the order of
// the sum of squares differs.
#pragma once

#include <ATen/ATen.h>

namespace lmeye {

// Whether CpuRmsNorm computes LlamaRMSNorm(x): a CPU float32 or bf16 x whose last dim is
// contiguous, weight [dim] contiguous of x's dtype, no gradient to record.
bool CpuRmsNormSupported(const at::Tensor& x, const at::Tensor& weight);

// weight * to_dtype(x_f32 * rsqrt(mean(x_f32^2) + eps)), as transformers' LlamaRMSNorm.
at::Tensor CpuRmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// Whether CpuRope computes the rotary embedding of x [B, T, heads, D] (last dim contiguous) with
// cos and sin [B, T, 1, D] of x's dtype, on the CPU, with no gradient to record.
bool CpuRopeSupported(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// x * cos + rotate_half(x) * sin, each product and the sum rounded to x's dtype as ATen does;
// a new contiguous [B, T, heads, D].
at::Tensor CpuRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace lmeye
