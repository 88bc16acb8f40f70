// Attributes of our hand-written CPU loops (llm/decode_attention.cc, generate/greedy_rows.cc).
//
// LMEYE_ISA_CLONES: one copy of the function per vector ISA, picked at load time (GCC function
// multi-versioning). The build targets any x86-64; the AVX-512 copy does 16 float lanes per
// instruction, the AVX2 one 8. Everything such a function calls must be inlined into it
// (LMEYE_INLINE), or it would run the baseline code.
#pragma once

#define LMEYE_INLINE inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LMEYE_ISA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LMEYE_ISA_CLONES
#endif
