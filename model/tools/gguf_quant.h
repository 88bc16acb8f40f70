// Tensor bytes in ggml's encodings: f32, f16 and bf16 (IEEE round-to-nearest-even, as ggml's
// own conversions), and Q8_0 as ggml's reference quantizer (quantize_row_q8_0_ref) makes it:
// blocks of 32 consecutive values of a row, each stored as one fp16 scale d = max|x| / 127
// followed by 32 int8 q = round(x / d) (half away from zero; q = 0 where the block is all 0).
// The scale that divides is the float32 d; the stored one is d rounded to fp16, as ggml does.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/tools/gguf_writer.h"

namespace lmeye {

// Q8_0 of `n` floats (n a multiple of 32) into n / 32 * 34 bytes at `out`.
void QuantizeQ8_0(const float* x, int64_t n, uint8_t* out);
// The values Q8_0 bytes stand for: `n` floats (d * q).
void DequantizeQ8_0(const uint8_t* in, int64_t n, float* out);

// The bytes of `tensor` (any float dtype, any shape; row-major order) as `type`.
// InvalidArgument for Q8_0 when the last dimension is not a multiple of 32.
absl::StatusOr<std::string> ToGgmlBytes(const at::Tensor& tensor, GgmlType type);

}  // namespace lmeye
