// Fuzz target for the evaluation readers (model/eval/datasets.h, predictions.h): a dataset or a
// predictions file handed to `lmeye_client eval`. The first input byte picks the reader (generic
// JSONL for each task, the LMEye long-answer format, VQAv2's two files split at the first NUL
// byte, a predictions file), the rest is the file. Read items must be whole: a choice item's
// answer indexes its choices. Seeds: corpus/eval_dataset (lines of tests/data/data and by hand).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "model/eval/datasets.h"
#include "model/eval/predictions.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using lmeye::eval::EvalDataset;
using lmeye::eval::EvalTask;

constexpr EvalTask kTasks[] = {EvalTask::kVqa, EvalTask::kLong, EvalTask::kDescribe,
                               EvalTask::kChoice};

void Check(const absl::StatusOr<EvalDataset>& dataset) {
  if (!dataset.ok()) return;
  for (const lmeye::eval::EvalItem& item : dataset->items) {
    if (dataset->task == EvalTask::kChoice &&
        (item.answer_index < 0 || item.answer_index >= static_cast<int>(item.choices.size()))) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lmeye::fuzz::Selected input = lmeye::fuzz::Select(data, size);
  const EvalTask task = kTasks[(input.selector >> 2) % 4];
  switch (input.selector % 4) {
    case 0:
      Check(lmeye::eval::ParseJsonlDataset(input.rest, task));
      break;
    case 1:
      Check(lmeye::eval::ParseLmeyeLongAnswerDataset(input.rest, task));
      break;
    case 2: {
      const size_t nul = input.rest.find('\0');
      const std::string questions = input.rest.substr(0, nul);
      const std::string annotations =
          nul == std::string::npos ? std::string() : input.rest.substr(nul + 1);
      Check(lmeye::eval::ParseVqaV2Dataset(questions, annotations));
      break;
    }
    default:
      lmeye::eval::ParsePredictions(input.rest).IgnoreError();
      break;
  }
  return 0;
}
