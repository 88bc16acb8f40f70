#include "model/eval/cider.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <unordered_map>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

constexpr int kMaxN = 4;
constexpr double kSigma = 6.0;

// N-gram counts in first-occurrence order (the reference iterates a Python dict), so sums run in
// the same order as the reference's.
struct Ngrams {
  std::vector<std::string> keys;  // joined with '\x1f'; the order is first occurrence
  std::unordered_map<std::string, int> counts;
};

Ngrams CountNgrams(const std::string& text) {
  const std::vector<std::string> words = SplitPythonWhitespace(text);
  Ngrams ngrams;
  for (int k = 1; k <= kMaxN; ++k) {
    for (int i = 0; i + k <= static_cast<int>(words.size()); ++i) {
      std::string key = std::to_string(k);
      for (int j = i; j < i + k; ++j) {
        key.push_back('\x1f');
        key += words[j];
      }
      auto [it, inserted] = ngrams.counts.emplace(key, 0);
      if (inserted) ngrams.keys.push_back(key);
      ++it->second;
    }
  }
  return ngrams;
}

int Order(const std::string& key) { return key[0] - '1'; }

struct Vector {
  std::array<std::unordered_map<std::string, double>, kMaxN> weights;
  std::array<std::vector<std::string>, kMaxN> order;
  std::array<double, kMaxN> norm{};
  int length = 0;  // number of bigrams
};

}  // namespace

CorpusScore ComputeCiderD(const std::vector<CaptionExample>& examples) {
  CorpusScore score;
  if (examples.empty()) return score;
  std::vector<Ngrams> tests;
  std::vector<std::vector<Ngrams>> refs;
  std::unordered_map<std::string, int> document_frequency;
  for (const CaptionExample& example : examples) {
    tests.push_back(CountNgrams(example.candidate));
    refs.emplace_back();
    std::unordered_map<std::string, bool> seen;
    for (const std::string& ref : example.references) {
      refs.back().push_back(CountNgrams(ref));
      for (const std::string& key : refs.back().back().keys) seen[key] = true;
    }
    for (const auto& [key, unused] : seen) ++document_frequency[key];
  }
  const double ref_len = std::log(static_cast<double>(examples.size()));

  auto to_vector = [&](const Ngrams& ngrams) {
    Vector vec;
    for (const std::string& key : ngrams.keys) {
      const auto df_it = document_frequency.find(key);
      const double df = std::log(std::max(
          1.0, df_it == document_frequency.end() ? 0.0 : static_cast<double>(df_it->second)));
      const int n = Order(key);
      const int tf = ngrams.counts.at(key);
      const double w = static_cast<double>(tf) * (ref_len - df);
      vec.weights[n][key] = w;
      vec.order[n].push_back(key);
      vec.norm[n] += std::pow(w, 2);
      if (n == 1) vec.length += tf;
    }
    for (double& norm : vec.norm) norm = std::sqrt(norm);
    return vec;
  };

  double total = 0.0;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (refs[i].empty()) {  // nothing to compare with; the reference asserts instead
      score.per_item.push_back(0.0);
      continue;
    }
    const Vector hyp = to_vector(tests[i]);
    std::array<double, kMaxN> sum{};
    for (const Ngrams& ref_ngrams : refs[i]) {
      const Vector ref = to_vector(ref_ngrams);
      const double delta = static_cast<double>(hyp.length - ref.length);
      for (int n = 0; n < kMaxN; ++n) {
        double val = 0.0;
        for (const std::string& key : hyp.order[n]) {
          const auto r = ref.weights[n].find(key);
          const double rw = r == ref.weights[n].end() ? 0.0 : r->second;
          val += std::min(hyp.weights[n].at(key), rw) * rw;
        }
        if (hyp.norm[n] != 0.0 && ref.norm[n] != 0.0) val /= hyp.norm[n] * ref.norm[n];
        val *= std::pow(M_E, -(delta * delta) / (2 * kSigma * kSigma));
        sum[n] += val;
      }
    }
    double avg = 0.0;
    for (double s : sum) avg += s;
    avg /= kMaxN;
    avg /= static_cast<double>(refs[i].size());
    avg *= 10.0;
    score.per_item.push_back(avg);
    total += avg;
  }
  score.corpus = total / static_cast<double>(examples.size());
  return score;
}

}  // namespace lmeye::eval
