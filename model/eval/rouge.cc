#include "model/eval/rouge.h"

#include <algorithm>
#include <string>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

constexpr double kBeta = 1.2;

int LongestCommonSubsequence(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<int> prev(b.size() + 1, 0);
  std::vector<int> cur(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = a[i - 1] == b[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], cur[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

double RougeLItem(const CaptionExample& example) {
  const std::vector<std::string> cand = SplitOnSpace(example.candidate);
  double prec_max = 0.0;
  double rec_max = 0.0;
  for (const std::string& reference : example.references) {
    const std::vector<std::string> ref = SplitOnSpace(reference);
    const double lcs = LongestCommonSubsequence(ref, cand);
    prec_max = std::max(prec_max, lcs / static_cast<double>(cand.size()));
    rec_max = std::max(rec_max, lcs / static_cast<double>(ref.size()));
  }
  if (prec_max == 0.0 || rec_max == 0.0) return 0.0;
  return ((1 + kBeta * kBeta) * prec_max * rec_max) / (rec_max + kBeta * kBeta * prec_max);
}

}  // namespace

CorpusScore ComputeRougeL(const std::vector<CaptionExample>& examples) {
  CorpusScore score;
  double sum = 0.0;
  for (const CaptionExample& example : examples) {
    score.per_item.push_back(RougeLItem(example));
    sum += score.per_item.back();
  }
  if (!examples.empty()) score.corpus = sum / static_cast<double>(examples.size());
  return score;
}

}  // namespace lmeye::eval
