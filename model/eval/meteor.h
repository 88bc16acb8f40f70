// METEOR as the COCO caption toolkit runs it: Meteor 1.5, `-l en -norm`, task "rank"
// (alpha 0.85, beta 0.2, gamma 0.6, delta 0.75), modules exact / stem (Snowball English) /
// synonym (WordNet) with weights 1.0 / 0.6 / 0.8.
//
// NOT INCLUDED: the paraphrase module (Meteor's paraphrase-en.gz table is not shipped), so scores
// equal Meteor's with "-m 'exact stem synonym'" and can be lower than the official COCO METEOR
// wherever a paraphrase would have matched.
//
// Re-implemented faithfully, quirks included: the candidate is normalised with Meteor's
// Normalizer and lower-cased; the alignment is Meteor's beam search (beam 40) whose partial scores
// use search weights 1/0.5/0.5 truncated to integers (Java int += double), and whose
// distance tie-breaker accumulates on the parent path; identical segments use the exact module
// only; the best reference is the first with the highest score; the corpus score comes from the
// summed sufficient statistics (chunks of perfect-match segments not added), not the mean.
//
// A MeteorScorer holds a pointer to shared, immutable MeteorResources; scoring is const and
// thread-safe.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "model/eval/caption_example.h"
#include "model/eval/meteor_resources.h"

namespace lmeye::eval {

// Meteor's sufficient statistics for one segment (or a sum of segments).
struct MeteorStats {
  static constexpr int kModules = 4;  // exact, stem, synonym, paraphrase (always 0 here)
  double test_length = 0;
  double reference_length = 0;
  double test_function_words = 0;
  double reference_function_words = 0;
  double test_total_matches = 0;
  double reference_total_matches = 0;
  std::array<double, kModules> test_content_matches{};
  std::array<double, kModules> reference_content_matches{};
  std::array<double, kModules> test_function_matches{};
  std::array<double, kModules> reference_function_matches{};
  double chunks = 0;
  double test_word_matches = 0;
  double reference_word_matches = 0;
  double score = 0;  // set by MeteorScorer::ComputeScore; not summed

  // MeteorStats.addStats: sums everything but the score; chunks of a perfect match
  // (all words matched in one chunk) are not added.
  void Add(const MeteorStats& other);
};

struct MeteorParameters {
  double alpha = 0.85;
  double beta = 0.2;
  double gamma = 0.6;
  double delta = 0.75;
  std::array<double, MeteorStats::kModules> module_weights = {1.0, 0.6, 0.8, 0.6};
  int beam_size = 40;
};

class MeteorScorer {
 public:
  // `resources` is not owned and must outlive the scorer.
  explicit MeteorScorer(const MeteorResources* resources, MeteorParameters params = {});

  // Stats of the best-scoring reference for a raw candidate (normalised, lower-cased). As the
  // COCO wrapper does, "|||" is removed from the candidate and double spaces collapsed.
  MeteorStats ScoreSegment(const std::string& candidate,
                           const std::vector<std::string>& references) const;

  // Stats for already normalised, lower-cased, space-separated strings.
  MeteorStats AlignAndCount(const std::string& test, const std::string& reference) const;

  // MeteorScorer.computeMetrics: fills stats->score and returns it.
  double ComputeScore(MeteorStats* stats) const;

  // Per-item scores and the corpus score from summed statistics.
  CorpusScore ScoreCorpus(const std::vector<CaptionExample>& examples) const;

 private:
  const MeteorResources* resources_;
  MeteorParameters params_;
};

}  // namespace lmeye::eval
