// BLEU-1..4 as pycocoevalcap's Bleu(4) computes it (bleu_scorer.py, option "closest"):
// corpus statistics (clipped n-gram matches and guesses summed over items), per item the reference
// length closest to the candidate length (ties -> the shorter), smoothing
// p_k = (correct_k + 1e-15) / (guess_k + 1e-9), brevity penalty exp(1 - 1/ratio) with
// ratio = (c + 1e-15) / (r + 1e-9) applied when ratio < 1. Per-item scores use the same formula on
// the item's own statistics (hence ~1e-4 rather than 0 for a missing 4-gram match).
// Pure function, thread-safe.
#pragma once

#include <array>
#include <vector>

#include "model/eval/caption_example.h"

namespace lmeye::eval {

struct BleuScore {
  std::array<double, 4> corpus{};               // Bleu_1 .. Bleu_4
  std::vector<std::array<double, 4>> per_item;  // same order as the input
  // Corpus totals (the reference's verbose print).
  int test_len = 0;
  int ref_len = 0;
  std::array<int, 4> guess{};
  std::array<int, 4> correct{};
};

BleuScore ComputeBleu(const std::vector<CaptionExample>& examples);

}  // namespace lmeye::eval
