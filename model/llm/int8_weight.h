// Weight-only int8: a linear layer's weight [N, K] stored as int8 with one scale per block of 32
// consecutive values of a row, the numbers of GGUF's Q8_0 (ggml's reference quantizer: d =
// max|w| / 127 rounded to fp16, q = round(w / d) half away from zero). Activations stay in the
// compute dtype (bf16 or float32): a decode step reads 1.125 bytes per weight instead of 2, and
// a model runs what llama.cpp runs on a q8_0 file of the same weights.
//
// The scales are kept as float32 beside the values rather than inside 34-byte blocks as GGUF
// stores them: the values of a row stay 32-byte aligned and contiguous, and the decode kernel
// multiplies by a float without converting fp16 (0.06 bytes per weight more than Q8_0).
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace lmeye {

inline constexpr int64_t kInt8Block = 32;  // weights per scale, along a row (Q8_0's block)

// One Q8_0 block of kInt8Block floats: `q` gets the int8 values, the return value is the
// scale as stored (d rounded to fp16, as a float). What GGUF export and Int8Weight both use.
float QuantizeQ8_0Block(const float* x, int8_t* q);

struct Int8Weight {
  at::Tensor values;  // [N, K] int8, contiguous
  at::Tensor scales;  // [N, K / kInt8Block] float32, contiguous: w[n, k] = scales[n, k / 32] * q
  bool defined() const { return values.defined(); }
  int64_t out_features() const { return values.size(0); }
  int64_t in_features() const { return values.size(1); }
};

// Whether QuantizeInt8 takes `weight`: a 2-D CPU floating tensor whose rows are whole blocks.
// A layer that is not (e.g. a tiny width) keeps its dense weight.
bool Int8Quantizable(const at::Tensor& weight);

// Q8_0 of every block of `weight` (any float dtype; the blocks quantized from its float value).
Int8Weight QuantizeInt8(const at::Tensor& weight);

// The weight the int8 values stand for, [N, K] in `dtype`: scale * q in float, rounded once to
// `dtype` (for bf16 a rounding the decode kernel, which multiplies in float, does not make).
at::Tensor DequantizeInt8(const Int8Weight& weight, at::ScalarType dtype);

// Rows [n0, n0 + n) of that, written to `out` ([n, K] contiguous, float32 or bf16) on the calling
// thread: what the GEMM route fills its per-thread tile with.
void DequantizeInt8Rows(const Int8Weight& weight, int64_t n0, int64_t n, at::ScalarType dtype,
                        void* out);

}  // namespace lmeye
