#include "model/synth/draws.h"

namespace lmeye::synth {

uint64_t MixBits(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Draws::Draws(uint64_t seed, DrawStream stream, uint64_t index)
    : engine_(MixBits(MixBits(seed) ^ MixBits((static_cast<uint64_t>(stream) << 56) ^ index))) {}

int Draws::Below(int n) {
  const uint64_t range = static_cast<uint64_t>(n);
  // The largest multiple of `range` that fits: draws at or above it would favour small values.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x = engine_();
  while (x >= limit) x = engine_();
  return static_cast<int>(x % range);
}

double Draws::Unit() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

}  // namespace lmeye::synth
