// Exact-match accuracy of short answers during training: the eval manifest's instruct examples
// whose answer is at most `max_answer_tokens` tokens (VQA words, True/False, a choice letter)
// are answered greedily through the serving engine (model/ipn/engine.h: first pass,
// interaction, second pass on the KV cache, decode steps), so the number measures what
// `lmeye serve` would answer with the adapter as it is now, and compared with the target after
// NormalizeAnswer.
//
// Runs under NoGradGuard; the caller's thread.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/ipn/lmeye_model.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/train_data.h"

namespace lmeye {

struct QaEvalResult {
  int n = 0;        // short-answer examples answered
  int correct = 0;  // exact matches
  double accuracy() const { return n == 0 ? 0.0 : static_cast<double>(correct) / n; }
};

// Lower case, surrounding whitespace and a final '.' removed, inner whitespace collapsed.
std::string NormalizeAnswer(absl::string_view text);

// `examples` of the instruct stage (not owned); `features` their image table. `batch` sequences at
// a time.
absl::StatusOr<QaEvalResult> EvaluateShortAnswers(LmeyeModel& model, const Tokenizer& tokenizer,
                                                  const std::vector<const TrainExample*>& examples,
                                                  const at::Tensor& features, int max_answer_tokens,
                                                  int batch);

}  // namespace lmeye
