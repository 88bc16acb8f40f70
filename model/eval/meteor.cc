#include "model/eval/meteor.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "model/eval/meteor_normalizer.h"
#include "model/eval/snowball_stemmer.h"
#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

constexpr int kExact = 0;
constexpr int kStem = 1;
constexpr int kSynonym = 2;
constexpr int kNumModulesUsed = 3;
// Weights the aligner's search ranks partial alignments with (MeteorScorer.loadConfiguration sets
// 1.0 for exact and 0.5 for the others); they are added to int fields, so 0.5 truncates away.
constexpr double kSearchWeights[kNumModulesUsed] = {1.0, 0.5, 0.5};

struct Match {
  int start = 0;        // position in the reference (line2)
  int match_start = 0;  // position in the test (line1)
  int module = 0;
};

struct PartialAlignment {
  std::vector<const Match*> matches;  // by reference position
  int match_count = 0;
  int matches1 = 0;
  int matches2 = 0;
  int chunks = 0;
  int idx = 0;
  int last_match_end = -1;
  int distance = 0;
  std::vector<bool> used1;
  std::vector<bool> used2;
};

// Constants.PARTIAL_COMPARE_TOTAL as a strict weak order: more (truncated-weighted) matches,
// then fewer chunks, then smaller distance.
bool Better(const PartialAlignment& x, const PartialAlignment& y) {
  const int match_diff = (y.matches1 + y.matches2) - (x.matches1 + x.matches2);
  if (match_diff != 0) return match_diff < 0;
  if (x.chunks != y.chunks) return x.chunks < y.chunks;
  return x.distance < y.distance;
}

std::vector<std::string> Tokenize(const std::string& line) {  // java.util.StringTokenizer
  std::vector<std::string> words;
  std::string current;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      if (!current.empty()) words.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) words.push_back(std::move(current));
  return words;
}

bool Intersect(const std::vector<int>& a, const std::vector<int>& b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) return true;
    if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return false;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

}  // namespace

void MeteorStats::Add(const MeteorStats& other) {
  test_length += other.test_length;
  reference_length += other.reference_length;
  test_function_words += other.test_function_words;
  reference_function_words += other.reference_function_words;
  test_total_matches += other.test_total_matches;
  reference_total_matches += other.reference_total_matches;
  for (int i = 0; i < kModules; ++i) {
    test_content_matches[i] += other.test_content_matches[i];
    reference_content_matches[i] += other.reference_content_matches[i];
    test_function_matches[i] += other.test_function_matches[i];
    reference_function_matches[i] += other.reference_function_matches[i];
  }
  if (!(other.test_total_matches == other.test_length &&
        other.reference_total_matches == other.reference_length && other.chunks == 1.0)) {
    chunks += other.chunks;
  }
  test_word_matches += other.test_word_matches;
  reference_word_matches += other.reference_word_matches;
}

MeteorScorer::MeteorScorer(const MeteorResources* resources, MeteorParameters params)
    : resources_(resources), params_(params) {}

MeteorStats MeteorScorer::AlignAndCount(const std::string& test,
                                        const std::string& reference) const {
  const std::vector<std::string> words1 = Tokenize(test);
  const std::vector<std::string> words2 = Tokenize(reference);
  const int n1 = static_cast<int>(words1.size());
  const int n2 = static_cast<int>(words2.size());

  // Candidate matches per reference position, in module order (exact, stem, synonym), each
  // module scanning test positions left to right, as Meteor's matchers append them.
  std::vector<std::vector<Match>> candidates(n2);
  std::vector<int> coverage1(n1, 0);
  std::vector<int> coverage2(n2, 0);
  auto add = [&](int j, int i, int module) {
    candidates[j].push_back({j, i, module});
    ++coverage1[i];
    ++coverage2[j];
  };
  const int modules_used = (words1 == words2) ? 1 : kNumModulesUsed;
  for (int module = 0; module < modules_used; ++module) {
    if (module == kExact) {
      for (int j = 0; j < n2; ++j) {
        for (int i = 0; i < n1; ++i) {
          if (words1[i] == words2[j]) add(j, i, module);
        }
      }
    } else if (module == kStem) {
      std::vector<std::string> stems1(n1);
      std::vector<std::string> stems2(n2);
      for (int i = 0; i < n1; ++i) stems1[i] = SnowballEnglishStem(words1[i]);
      for (int j = 0; j < n2; ++j) stems2[j] = SnowballEnglishStem(words2[j]);
      for (int j = 0; j < n2; ++j) {
        for (int i = 0; i < n1; ++i) {
          if (stems1[i] == stems2[j] && words1[i] != words2[j]) add(j, i, module);
        }
      }
    } else if (module == kSynonym) {
      std::vector<std::vector<int>> syn1(n1);
      std::vector<std::vector<int>> syn2(n2);
      for (int i = 0; i < n1; ++i) syn1[i] = resources_->SynsetsWithMorphology(words1[i]);
      for (int j = 0; j < n2; ++j) syn2[j] = resources_->SynsetsWithMorphology(words2[j]);
      for (int j = 0; j < n2; ++j) {
        for (int i = 0; i < n1; ++i) {
          if (words1[i] != words2[j] && Intersect(syn1[i], syn2[j])) add(j, i, module);
        }
      }
    }
  }

  // One-to-one matches that overlap nothing are fixed before the search.
  PartialAlignment start;
  start.matches.assign(n2, nullptr);
  start.used1.assign(n1, false);
  start.used2.assign(n2, false);
  for (int j = 0; j < n2; ++j) {
    if (candidates[j].size() != 1) continue;
    const Match& m = candidates[j][0];
    if (coverage2[j] == 1 && coverage1[m.match_start] == 1) {
      start.matches[j] = &m;
      start.used2[j] = true;
      start.used1[m.match_start] = true;
    }
  }

  // Beam search over reference positions (Aligner.resolve).
  auto weighted = [](int count, int module) {
    return static_cast<double>(count) * kSearchWeights[module];
  };
  std::vector<PartialAlignment> next_paths = {start};
  for (int current = 0; current <= n2; ++current) {
    std::vector<PartialAlignment> paths = std::move(next_paths);
    next_paths.clear();
    std::stable_sort(paths.begin(), paths.end(), Better);
    for (int rank = 0; rank < params_.beam_size && rank < static_cast<int>(paths.size()); ++rank) {
      PartialAlignment& path = paths[rank];
      if (current == n2) {
        if (path.last_match_end != -1) ++path.chunks;
        next_paths.push_back(std::move(path));
        continue;
      }
      if (path.used2[current]) {
        if (current < path.idx) {
          next_paths.push_back(std::move(path));
        } else if (path.matches[path.idx] != nullptr) {
          const Match& m = *path.matches[path.idx];
          ++path.match_count;
          path.matches1 = static_cast<int>(path.matches1 + weighted(1, m.module));
          path.matches2 = static_cast<int>(path.matches2 + weighted(1, m.module));
          if (path.last_match_end != -1 && m.match_start != path.last_match_end) ++path.chunks;
          path.idx = m.start + 1;
          path.last_match_end = m.match_start + 1;
          path.distance += std::abs(m.start - m.match_start);
          next_paths.push_back(std::move(path));
        }
        continue;
      }
      for (const Match& m : candidates[current]) {
        if (path.used2[m.start] || path.used1[m.match_start]) continue;
        PartialAlignment extended = path;
        extended.used2[m.start] = true;
        extended.used1[m.match_start] = true;
        extended.matches[current] = &m;
        ++extended.match_count;
        extended.matches1 = static_cast<int>(extended.matches1 + weighted(1, m.module));
        extended.matches2 = static_cast<int>(extended.matches2 + weighted(1, m.module));
        if (extended.last_match_end != -1 && m.match_start != extended.last_match_end) {
          ++extended.chunks;
        }
        extended.idx = m.start + 1;
        extended.last_match_end = m.match_start + 1;
        // Meteor adds the distance to the parent path here, not to the extension.
        path.distance += std::abs(m.start - m.match_start);
        next_paths.push_back(std::move(extended));
      }
      if (path.last_match_end != -1) {
        ++path.chunks;
        path.last_match_end = -1;
      }
      ++path.idx;
      next_paths.push_back(std::move(path));
    }
    if (next_paths.empty()) next_paths.push_back(paths[0]);  // unreachable with one-word matches
  }
  std::stable_sort(next_paths.begin(), next_paths.end(), Better);
  const PartialAlignment& best = next_paths[0];

  // Sufficient statistics (MeteorScorer.getMeteorStats(Alignment), word level).
  MeteorStats stats;
  stats.test_length = n1;
  stats.reference_length = n2;
  std::vector<bool> function1(n1);
  std::vector<bool> function2(n2);
  for (int i = 0; i < n1; ++i) {
    function1[i] = resources_->IsFunctionWord(ToLowerUtf8(words1[i]));
    stats.test_function_words += function1[i] ? 1 : 0;
  }
  for (int j = 0; j < n2; ++j) {
    function2[j] = resources_->IsFunctionWord(ToLowerUtf8(words2[j]));
    stats.reference_function_words += function2[j] ? 1 : 0;
  }
  int chunks = 0;
  int last_match_end = -1;
  for (int j = 0; j < n2; ++j) {
    const Match* m = best.matches[j];
    if (m == nullptr) {
      if (last_match_end != -1) {
        ++chunks;
        last_match_end = -1;
      }
      continue;
    }
    (function1[m->match_start] ? stats.test_function_matches
                               : stats.test_content_matches)[m->module] += 1;
    (function2[m->start] ? stats.reference_function_matches
                         : stats.reference_content_matches)[m->module] += 1;
    if (last_match_end != -1 && m->match_start != last_match_end) ++chunks;
    last_match_end = m->match_start + 1;
  }
  if (last_match_end != -1) ++chunks;
  stats.chunks = chunks;
  for (int i = 0; i < MeteorStats::kModules; ++i) {
    stats.test_total_matches += stats.test_content_matches[i] + stats.test_function_matches[i];
    stats.reference_total_matches +=
        stats.reference_content_matches[i] + stats.reference_function_matches[i];
  }
  stats.test_word_matches = stats.test_total_matches;
  stats.reference_word_matches = stats.reference_total_matches;
  ComputeScore(&stats);
  return stats;
}

double MeteorScorer::ComputeScore(MeteorStats* s) const {
  const double delta = params_.delta;
  const double alpha = params_.alpha;
  const double test_weighted_length = (delta * (s->test_length - s->test_function_words)) +
                                      ((1.0 - delta) * s->test_function_words);
  const double reference_weighted_length =
      (delta * (s->reference_length - s->reference_function_words)) +
      ((1.0 - delta) * s->reference_function_words);
  double test_weighted_matches = 0;
  double reference_weighted_matches = 0;
  const auto& w = params_.module_weights;
  for (int i = 0; i < MeteorStats::kModules; ++i) {
    test_weighted_matches += s->test_content_matches[i] * w[i] * delta;
  }
  for (int i = 0; i < MeteorStats::kModules; ++i) {
    reference_weighted_matches += s->reference_content_matches[i] * w[i] * delta;
  }
  for (int i = 0; i < MeteorStats::kModules; ++i) {
    test_weighted_matches += s->test_function_matches[i] * w[i] * (1.0 - delta);
  }
  for (int i = 0; i < MeteorStats::kModules; ++i) {
    reference_weighted_matches += s->reference_function_matches[i] * w[i] * (1.0 - delta);
  }
  const double precision = test_weighted_matches / test_weighted_length;
  const double recall = reference_weighted_matches / reference_weighted_length;
  const double f_mean = 1.0 / (((1.0 - alpha) / precision) + (alpha / recall));
  double frag;
  if (s->test_total_matches == s->test_length &&
      s->reference_total_matches == s->reference_length && s->chunks == 1) {
    frag = 0;
  } else {
    frag = s->chunks / ((s->test_word_matches + s->reference_word_matches) / 2);
  }
  const double frag_penalty = params_.gamma * std::pow(frag, params_.beta);
  const double score = f_mean * (1.0 - frag_penalty);
  s->score = std::isnan(score) ? 0.0 : std::max(score, 0.0);
  return s->score;
}

MeteorStats MeteorScorer::ScoreSegment(const std::string& candidate,
                                       const std::vector<std::string>& references) const {
  const NonbreakingPrefixes& prefixes = resources_->nonbreaking_prefixes();
  // meteor.py: hypothesis.replace('|||', '').replace('  ', ' '); Meteor then trims each field.
  const std::string hyp = ReplaceAll(ReplaceAll(candidate, "|||", ""), "  ", " ");
  const std::string test = ToLowerUtf8(MeteorNormalize(hyp, prefixes));
  MeteorStats best;
  best.score = -1;
  for (const std::string& reference : references) {
    const std::string ref = ToLowerUtf8(MeteorNormalize(reference, prefixes));
    MeteorStats stats = AlignAndCount(test, ref);
    if (stats.score > best.score) best = stats;
  }
  return best;
}

CorpusScore MeteorScorer::ScoreCorpus(const std::vector<CaptionExample>& examples) const {
  CorpusScore result;
  MeteorStats total;
  for (const CaptionExample& example : examples) {
    MeteorStats stats = ScoreSegment(example.candidate, example.references);
    result.per_item.push_back(ComputeScore(&stats));
    total.Add(stats);
  }
  result.corpus = ComputeScore(&total);
  return result;
}

}  // namespace lmeye::eval
