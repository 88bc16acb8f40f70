// Deterministic random draws for the synthetic datasets.
//
// The generator must write the same bytes for the same seed on every machine, so it never uses
// std::uniform_int_distribution, std::shuffle or friends (their algorithms are left to each
// standard library). std::mt19937_64's output sequence is fixed by the standard; everything here
// is built on it with arithmetic we own.
//
// Every scene draws from its own streams, keyed by (seed, stream, index): scene k of a dataset is
// the same whatever --n is, and changing how questions are drawn never moves a scene's objects.
//
// Not thread-safe (one Draws per thread); cheap to construct.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace lmeye::synth {

// Independent streams of one scene. Values are part of the format: changing one changes every
// generated dataset.
enum class DrawStream : uint64_t {
  kScene = 1,      // objects, background
  kTexture = 2,    // background noise pixels
  kQuestions = 3,  // which questions are asked, hard negatives, choice order
};

// SplitMix64's finaliser: a bijective 64-bit mix (seeds that differ in one bit give unrelated
// engine states).
uint64_t MixBits(uint64_t x);

class Draws {
 public:
  Draws(uint64_t seed, DrawStream stream, uint64_t index);

  uint64_t Next() { return engine_(); }
  // Uniform in [0, n); n > 0. Rejection sampling, so no modulo bias.
  int Below(int n);
  // Uniform in [lo, hi], both inclusive; lo <= hi.
  int Between(int lo, int hi) { return lo + Below(hi - lo + 1); }
  // Uniform in [0, 1) with 53 random bits.
  double Unit();
  double Range(double lo, double hi) { return lo + (hi - lo) * Unit(); }
  bool Chance(double p) { return Unit() < p; }

  // Fisher-Yates with Below().
  template <typename T>
  void Shuffle(std::vector<T>& values) {
    for (int i = static_cast<int>(values.size()) - 1; i > 0; --i) {
      std::swap(values[i], values[Below(i + 1)]);
    }
  }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[Below(static_cast<int>(values.size()))];
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace lmeye::synth
