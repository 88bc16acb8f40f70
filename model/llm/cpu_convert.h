// Element conversions shared by the hand-written CPU loops of model/llm (decode attention, RMS
// norm, rotary embedding): always inlined, so that each per-ISA clone vectorises them.
#pragma once

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

}  // namespace lmeye
