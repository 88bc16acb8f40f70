#include "model/eval/scoring.h"

#include <unordered_map>

#include "absl/status/status.h"
#include "model/eval/bleu.h"
#include "model/eval/cider.h"
#include "model/eval/meteor.h"
#include "model/eval/ptb_tokenizer.h"
#include "model/eval/rouge.h"
#include "model/eval/text_util.h"
#include "model/eval/vqa_accuracy.h"

namespace lmeye::eval {
namespace {

// "A", "(a)", "a.", "a)" -> 0; "1", "(1)" -> 0; anything else -> -1.
int ChoiceReference(const std::string& prediction) {
  std::string s = StripPython(prediction);
  if (!s.empty() && s.front() == '(' && s.size() >= 2) s = s.substr(1);
  while (!s.empty() && (s.back() == ')' || s.back() == '.' || s.back() == ':')) s.pop_back();
  if (s.size() == 1 && IsAsciiLetter(s[0])) return (s[0] | 0x20) - 'a';
  if (!s.empty() && s.size() <= 2 && IsAsciiDigit(s[0]) && (s.size() == 1 || IsAsciiDigit(s[1]))) {
    return std::stoi(s) - 1;
  }
  return -1;
}

void ScoreVqa(const EvalDataset& dataset, ScoreReport* report) {
  std::vector<VqaScoredQuestion> scored;
  for (size_t i = 0; i < dataset.items.size(); ++i) {
    const EvalItem& item = dataset.items[i];
    const VqaAnswerScore s = ScoreVqaAnswer(report->items[i].prediction, item.answers);
    report->items[i].metrics["accuracy"] = s.accuracy;
    scored.push_back({s.accuracy, item.answer_type, item.question_type});
  }
  const VqaSummary summary = SummarizeVqa(scored);
  report->metrics["accuracy"] = summary.overall;
  report->metrics["accuracy_exact"] = summary.overall_exact;
  report->breakdowns["perAnswerType"] = summary.per_answer_type;
  report->breakdowns["perQuestionType"] = summary.per_question_type;
}

void ScoreCaptions(const EvalDataset& dataset, const ScoringOptions& options, ScoreReport* report) {
  std::vector<CaptionExample> examples(dataset.items.size());
  std::vector<std::string> candidates;
  std::vector<std::string> references;
  for (size_t i = 0; i < dataset.items.size(); ++i) {
    candidates.push_back(report->items[i].prediction);
    for (const std::string& ref : dataset.items[i].references) references.push_back(ref);
  }
  if (options.ptb_tokenize) {
    // As pycocoevalcap: references and candidates are tokenised as two texts, in item order.
    candidates = CocoTokenizeBatch(candidates);
    references = CocoTokenizeBatch(references);
  }
  size_t next_ref = 0;
  for (size_t i = 0; i < dataset.items.size(); ++i) {
    examples[i].candidate = candidates[i];
    for (size_t r = 0; r < dataset.items[i].references.size(); ++r) {
      examples[i].references.push_back(references[next_ref++]);
    }
  }
  const BleuScore bleu = ComputeBleu(examples);
  for (int k = 0; k < 4; ++k) {
    const std::string name = "Bleu_" + std::to_string(k + 1);
    report->metrics[name] = bleu.corpus[k];
    for (size_t i = 0; i < examples.size(); ++i) {
      report->items[i].metrics[name] = bleu.per_item[i][k];
    }
  }
  auto store = [&](const char* name, const CorpusScore& score) {
    report->metrics[name] = score.corpus;
    for (size_t i = 0; i < examples.size(); ++i) report->items[i].metrics[name] = score.per_item[i];
  };
  store("ROUGE_L", ComputeRougeL(examples));
  store("CIDEr", ComputeCiderD(examples));
  if (options.meteor != nullptr)
    store("METEOR", MeteorScorer(options.meteor).ScoreCorpus(examples));
}

}  // namespace

double ScoreChoice(const std::string& prediction, const std::vector<std::string>& choices,
                   int answer_index) {
  if (answer_index < 0 || answer_index >= static_cast<int>(choices.size())) return 0.0;
  if (ExactMatch(prediction, choices[answer_index])) return 1.0;
  return ChoiceReference(prediction) == answer_index ? 1.0 : 0.0;
}

absl::StatusOr<ScoreReport> ScorePredictions(const EvalDataset& dataset,
                                             const std::vector<Prediction>& predictions,
                                             const ScoringOptions& options) {
  if (dataset.items.empty()) return absl::InvalidArgumentError("the dataset has no items");
  ScoreReport report;
  report.task = dataset.task;
  report.n_items = static_cast<int>(dataset.items.size());
  std::unordered_map<std::string, const Prediction*> by_id;
  for (const Prediction& p : predictions) by_id[p.id] = &p;
  int matched = 0;
  for (const EvalItem& item : dataset.items) {
    ItemScore score;
    score.id = item.id;
    const auto it = by_id.find(item.id);
    if (it == by_id.end()) {
      ++report.n_missing;
    } else {
      score.prediction = it->second->text;
      ++matched;
    }
    report.items.push_back(std::move(score));
  }
  report.n_unmatched = static_cast<int>(by_id.size()) - matched;

  switch (dataset.task) {
    case EvalTask::kVqa:
      ScoreVqa(dataset, &report);
      break;
    case EvalTask::kLong:
    case EvalTask::kDescribe:
      ScoreCaptions(dataset, options, &report);
      break;
    case EvalTask::kChoice: {
      double sum = 0.0;
      for (size_t i = 0; i < dataset.items.size(); ++i) {
        const EvalItem& item = dataset.items[i];
        const double s = ScoreChoice(report.items[i].prediction, item.choices, item.answer_index);
        report.items[i].metrics["accuracy"] = s;
        sum += s;
      }
      report.metrics["accuracy"] = 100.0 * sum / static_cast<double>(dataset.items.size());
      break;
    }
  }
  return report;
}

}  // namespace lmeye::eval
