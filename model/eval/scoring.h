// Scores predictions for a dataset with the paper's metrics:
//   vqa       VQA accuracy exactly as vqaEval.py (overall, per answer type, per question type);
//   long /    BLEU-1..4, ROUGE-L, CIDEr-D and METEOR on COCO-toolkit-tokenised text (PTB tokens,
//   describe  punctuation removed), corpus values as pycocoevalcap prints them;
//   choice    exact match: the prediction equals the correct choice after VQA normalisation, or
//             names it by letter ("A", "(b)") or 1-based number.
// Items without a prediction are scored as an empty answer and counted in n_missing; predictions
// whose id is not in the dataset are ignored and counted in n_unmatched. METEOR is skipped when no
// MeteorResources are given. Pure function of its inputs; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/eval/datasets.h"
#include "model/eval/meteor_resources.h"
#include "model/eval/predictions.h"

namespace lmeye::eval {

struct ScoringOptions {
  // Meteor's data (not owned; may be null: then METEOR is not computed).
  const MeteorResources* meteor = nullptr;
  // Apply the COCO toolkit's PTB tokenisation before the caption metrics. Turn off only for text
  // that is already tokenised.
  bool ptb_tokenize = true;
};

struct ItemScore {
  std::string id;
  std::string prediction;
  std::map<std::string, double> metrics;  // per-item values under the same names as below
};

struct ScoreReport {
  EvalTask task = EvalTask::kVqa;
  int n_items = 0;
  int n_missing = 0;
  int n_unmatched = 0;
  // Metric name -> value. vqa: "accuracy" (official, percent, rounded to 2 places) and
  // "accuracy_exact" (unrounded fraction); long/describe: "Bleu_1".."Bleu_4", "ROUGE_L", "CIDEr",
  // "METEOR" (fractions as pycocoevalcap reports them); choice: "accuracy" (percent).
  std::map<std::string, double> metrics;
  // vqa only: "perAnswerType" / "perQuestionType" -> type -> official rounded percent.
  std::map<std::string, std::map<std::string, double>> breakdowns;
  std::vector<ItemScore> items;  // in dataset order
};

absl::StatusOr<ScoreReport> ScorePredictions(const EvalDataset& dataset,
                                             const std::vector<Prediction>& predictions,
                                             const ScoringOptions& options = {});

// The choice rule above, exposed for tests: 1.0 when `prediction` selects choice `answer_index`.
double ScoreChoice(const std::string& prediction, const std::vector<std::string>& choices,
                   int answer_index);

}  // namespace lmeye::eval
