// Saved predictions in the official result formats:
//   VQA / long / choice:  [{"question_id": 262148000, "answer": "down"}, ...]
//   describe (captions):  [{"image_id": 262148, "caption": "a man on a skateboard"}, ...]
// Reading also accepts JSONL (one object a line) and {"id", "prediction"|"text"} pairs, so the
// client can stream predictions to disk and score them later (--score-only).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/eval/datasets.h"

namespace lmeye::eval {

struct Prediction {
  std::string id;             // question_id or image_id, as text
  bool id_is_number = false;  // written back as a JSON number
  std::string text;           // the model's answer or caption
};

// Parses a predictions file's contents. Duplicate ids are an error (InvalidArgument).
absl::StatusOr<std::vector<Prediction>> ParsePredictions(const std::string& contents);
absl::StatusOr<std::vector<Prediction>> ReadPredictions(const std::string& path);

// The official result format for `task` (a JSON array, one object per prediction, in order).
std::string FormatPredictions(EvalTask task, const std::vector<Prediction>& predictions);

}  // namespace lmeye::eval
