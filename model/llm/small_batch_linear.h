// y = x W^T + b for the few rows of a decode step, on the CPU.
//
// A decode step multiplies one to a few activation rows by every weight matrix: the work is
// reading the weights once, so the speed bound is memory bandwidth. libtorch 1.13's CPU linear
// reaches about a third of it there for bf16 (oneDNN's bf16 path pays per-call set-up, and the
// BLAS route converts the whole weight to float first). This kernel streams each weight row once
// per call, for all of x's rows, converting bf16 to float in registers.
#pragma once

#include <ATen/ATen.h>

#include "model/llm/int8_weight.h"

namespace lmeye {

// The most activation rows SmallBatchLinear takes: each weight row is multiplied with every
// activation row while it sits in registers, so more rows mean more accumulators than the
// vector registers hold; past this, a GEMM's blocking wins.
inline constexpr int64_t kSmallBatchMaxRows = 4;
// With int8 weights the kernel takes more rows: it reads each weight block once and runs the
// rows over it in passes of four while it sits in L1, so up to here it reads the weights once
// where the GEMM route would first write a dequantized copy twice their size.
inline constexpr int64_t kSmallBatchMaxRowsInt8 = 8;

// Whether SmallBatchLinear computes linear(x, weight, bias): a CPU float32 or bf16 x with at most
// kSmallBatchMaxRows rows (its leading dims multiplied), weight [N, K] contiguous of x's dtype,
// bias undefined or [N] of that dtype, and no gradient to record.
bool SmallBatchLinearSupported(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias);

// at::linear(x, weight, bias) when SmallBatchLinearSupported: float accumulation, one rounding to
// x's dtype at the end (as libtorch's bf16 linear does). The result differs from at::linear's by
// summation order only.
at::Tensor SmallBatchLinear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// SmallBatchLinear where supported, at::linear otherwise: what the LLM's layers call.
at::Tensor ApplyLinear(const at::Tensor& x, const at::Tensor& weight,
                       const at::Tensor& bias = at::Tensor());

// The same for int8 weights (int8_weight.h): x float32 or bf16 with at most
// kSmallBatchMaxRowsInt8 rows, bias undefined or [N] of x's dtype, no gradient to record for x.
bool SmallBatchLinearSupported(const at::Tensor& x, const Int8Weight& weight,
                               const at::Tensor& bias);
// x (scale * q)^T + b in float, rounded once to x's dtype.
at::Tensor SmallBatchLinear(const at::Tensor& x, const Int8Weight& weight, const at::Tensor& bias);
// SmallBatchLinear where supported; otherwise GEMMs (at::linear) on the weight dequantized to x's
// dtype, a tile of rows at a time into a per-thread buffer, or whole where x records gradients.
at::Tensor ApplyLinear(const at::Tensor& x, const Int8Weight& weight,
                       const at::Tensor& bias = at::Tensor());

}  // namespace lmeye
