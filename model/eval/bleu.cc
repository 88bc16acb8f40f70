#include "model/eval/bleu.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

constexpr int kMaxN = 4;
// The reference's smoothing constants.
constexpr double kTiny = 1e-15;
constexpr double kSmall = 1e-9;

using NgramCounts = std::map<std::vector<std::string>, int>;

NgramCounts CountNgrams(const std::vector<std::string>& words) {
  NgramCounts counts;
  for (int k = 1; k <= kMaxN; ++k) {
    for (int i = 0; i + k <= static_cast<int>(words.size()); ++i) {
      ++counts[std::vector<std::string>(words.begin() + i, words.begin() + i + k)];
    }
  }
  return counts;
}

struct ItemStats {
  int test_len = 0;
  int ref_len = 0;
  std::array<int, kMaxN> guess{};
  std::array<int, kMaxN> correct{};
};

ItemStats CookItem(const CaptionExample& example) {
  ItemStats stats;
  NgramCounts max_ref_counts;
  std::vector<int> ref_lens;
  for (const std::string& ref : example.references) {
    const std::vector<std::string> words = SplitPythonWhitespace(ref);
    ref_lens.push_back(static_cast<int>(words.size()));
    for (const auto& [ngram, count] : CountNgrams(words)) {
      int& best = max_ref_counts[ngram];
      best = std::max(best, count);
    }
  }
  const std::vector<std::string> words = SplitPythonWhitespace(example.candidate);
  stats.test_len = static_cast<int>(words.size());
  // Closest reference length; ties go to the shorter one (min over (|l - c|, l)).
  bool first = true;
  for (int len : ref_lens) {
    const int diff = std::abs(len - stats.test_len);
    const int best_diff = std::abs(stats.ref_len - stats.test_len);
    if (first || diff < best_diff || (diff == best_diff && len < stats.ref_len)) {
      stats.ref_len = len;
      first = false;
    }
  }
  for (int k = 0; k < kMaxN; ++k) stats.guess[k] = std::max(0, stats.test_len - k);
  for (const auto& [ngram, count] : CountNgrams(words)) {
    const auto ref = max_ref_counts.find(ngram);
    const int ref_count = ref == max_ref_counts.end() ? 0 : ref->second;
    stats.correct[ngram.size() - 1] += std::min(ref_count, count);
  }
  return stats;
}

std::array<double, kMaxN> BleuFromStats(double test_len, double ref_len,
                                        const std::array<int, kMaxN>& guess,
                                        const std::array<int, kMaxN>& correct) {
  std::array<double, kMaxN> bleus{};
  double product = 1.0;
  for (int k = 0; k < kMaxN; ++k) {
    product *= (static_cast<double>(correct[k]) + kTiny) / (static_cast<double>(guess[k]) + kSmall);
    bleus[k] = std::pow(product, 1.0 / (k + 1));
  }
  const double ratio = (test_len + kTiny) / (ref_len + kSmall);
  if (ratio < 1.0) {
    for (int k = 0; k < kMaxN; ++k) bleus[k] *= std::exp(1.0 - 1.0 / ratio);
  }
  return bleus;
}

}  // namespace

BleuScore ComputeBleu(const std::vector<CaptionExample>& examples) {
  BleuScore score;
  for (const CaptionExample& example : examples) {
    const ItemStats stats = CookItem(example);
    score.test_len += stats.test_len;
    score.ref_len += stats.ref_len;
    for (int k = 0; k < kMaxN; ++k) {
      score.guess[k] += stats.guess[k];
      score.correct[k] += stats.correct[k];
    }
    score.per_item.push_back(
        BleuFromStats(stats.test_len, stats.ref_len, stats.guess, stats.correct));
  }
  score.corpus = BleuFromStats(score.test_len, score.ref_len, score.guess, score.correct);
  return score;
}

}  // namespace lmeye::eval
