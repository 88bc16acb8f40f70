// Element conversions shared by the hand-written CPU loops of model/llm (decode attention, RMS
// norm, rotary embedding, the small-batch linear kernel, int8 dequantizing): always inlined, so
// that each per-ISA clone vectorises them.
#pragma once

#include <cstdint>
#include <cstring>

#include <c10/util/BFloat16.h>

#include "model/common/cpu_kernel.h"

namespace lmeye {

LMEYE_INLINE float ToFloat(float x) { return x; }
LMEYE_INLINE float ToFloat(c10::BFloat16 x) { return static_cast<float>(x); }

// What storing x in T and reading it back gives: the rounding between two ATen ops.
template <typename T>
LMEYE_INLINE float Round(float x) {
  return static_cast<float>(static_cast<T>(x));
}

// 16 lanes: one AVX-512 register, two AVX2 ones (GCC vector extensions lower to whatever the
// clone's ISA has). Loops written with these where the vectoriser spilled accumulators or
// converted one element at a time.
typedef float Floats __attribute__((vector_size(64)));
typedef uint32_t Words __attribute__((vector_size(64)));
typedef int32_t Ints __attribute__((vector_size(64)));
typedef uint16_t Halves __attribute__((vector_size(32)));
typedef int16_t Shorts __attribute__((vector_size(32)));
typedef int8_t Bytes __attribute__((vector_size(16)));
inline constexpr int64_t kVectorLanes = 16;  // floats in Floats

LMEYE_INLINE Floats Load16(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
// bf16 is float's upper half: widening is a zero-extension and a shift.
LMEYE_INLINE Floats Load16(const uint16_t* p) {
  Halves h;
  std::memcpy(&h, p, sizeof(h));
  const Words w = __builtin_convertvector(h, Words) << 16;
  Floats v;
  std::memcpy(&v, &w, sizeof(v));
  return v;
}
// int8 values widened to int16, then int32, then float: GCC 12 turns each step into one
// instruction (vpmovsxbw, vpmovsxwd, vcvtdq2ps), where int8 straight to int32 or float, or a
// zero-extension of uint8, goes one element at a time.
LMEYE_INLINE Floats Load16(const int8_t* p) {
  Bytes b;
  std::memcpy(&b, p, sizeof(b));
  return __builtin_convertvector(__builtin_convertvector(__builtin_convertvector(b, Shorts), Ints),
                                 Floats);
}

}  // namespace lmeye
