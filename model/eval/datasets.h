// Evaluation datasets, read into one native shape (EvalDataset) for every task:
//  - VQAv2 / OK-VQA official files: questions JSON ({"questions": [...]}) + annotations JSON
//    ({"annotations": [...]}, 10 answers each), joined on question_id;
//  - generic JSONL, one item a line: image / image_file / image_path, question, answers (strings or
//    {"answer": ...} objects), references / captions, choices + answer (index or text), and
//    question_id / id / image_id as the key (see ReadJsonlDataset for the precedence);
//  - the LMEye long-answer benchmark (LingCloud multimodal_data_all_generation, as JSON list or
//    JSONL): each record has image_id, image_file, caption and qa[{question, answer}]. Task kLong
//    gives one item per qa pair (id "<image_id>_<k>"), kDescribe one item per image whose reference
//    is the long caption.
// Readers return InvalidArgument with the file, line and field on malformed input; they never
// abort. Image files are not opened: `image` is the path as written in the data.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lmeye::eval {

enum class EvalTask {
  kVqa,       // short answers, VQA accuracy against 10 human answers
  kLong,      // long answers, caption metrics against reference answers
  kDescribe,  // detailed descriptions, caption metrics against reference captions
  kChoice,    // multiple choice (e.g. VCR Q->A), exact match against the correct choice
};

// "vqa" | "long" | "describe" | "choice" (the client's --task values).
absl::StatusOr<EvalTask> ParseEvalTask(const std::string& name);
const char* EvalTaskName(EvalTask task);

struct EvalItem {
  std::string id;             // question_id (VQA), "<image_id>_<k>" (LMEye QA), image_id, ...
  bool id_is_number = false;  // the id was a JSON number (written back as a number)
  std::string image_id;
  std::string image;                    // image path as given in the data (may be empty)
  std::string question;                 // empty for plain description items
  std::vector<std::string> answers;     // kVqa: human answers
  std::vector<std::string> references;  // kLong / kDescribe
  std::vector<std::string> choices;     // kChoice
  int answer_index = -1;                // kChoice: index into choices
  std::string answer_type;              // VQA breakdowns ("yes/no", "number", "other")
  std::string question_type;
};

struct EvalDataset {
  EvalTask task = EvalTask::kVqa;
  std::vector<EvalItem> items;
};

// Official VQAv2 / OK-VQA files. Questions without annotations are an error; annotations without
// a question get an empty question.
absl::StatusOr<EvalDataset> ReadVqaV2Dataset(const std::string& questions_path,
                                             const std::string& annotations_path);
absl::StatusOr<EvalDataset> ParseVqaV2Dataset(const std::string& questions_json,
                                              const std::string& annotations_json);

// Generic JSONL. Key precedence: question_id, id, image_id. Blank lines are skipped.
absl::StatusOr<EvalDataset> ReadJsonlDataset(const std::string& path, EvalTask task);
absl::StatusOr<EvalDataset> ParseJsonlDataset(const std::string& contents, EvalTask task);

// LMEye long-answer benchmark; task must be kLong or kDescribe.
absl::StatusOr<EvalDataset> ReadLmeyeLongAnswerDataset(const std::string& path, EvalTask task);
absl::StatusOr<EvalDataset> ParseLmeyeLongAnswerDataset(const std::string& contents, EvalTask task);

// Picks the reader from the content: records with "qa" -> LMEye, else generic JSONL. (VQAv2's
// two-file format needs ReadVqaV2Dataset.)
absl::StatusOr<EvalDataset> ReadDataset(const std::string& path, EvalTask task);

// Whole-file read shared by the readers (NotFound on failure).
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace lmeye::eval
