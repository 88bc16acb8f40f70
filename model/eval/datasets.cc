#include "model/eval/datasets.h"

#include <cstdint>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace lmeye::eval {
namespace {

using nlohmann::json;

std::string Where(const std::string& source, int line) {
  return line > 0 ? absl::StrCat(source, ":", line) : source;
}

absl::StatusOr<json> ParseJson(const std::string& text, const std::string& where) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat(where, ": invalid JSON"));
  return value;
}

// Scalar JSON -> string; numbers keep their integer spelling.
bool ScalarToString(const json& value, std::string* out, bool* is_number = nullptr) {
  if (value.is_string()) {
    *out = value.get<std::string>();
    if (is_number != nullptr) *is_number = false;
    return true;
  }
  if (value.is_number()) {
    *out = value.dump();
    if (is_number != nullptr) *is_number = true;
    return true;
  }
  return false;
}

// An array of strings, or of objects carrying the text under `key` (VQA's {"answer": ...}).
absl::Status StringList(const json& value, const char* key, const std::string& where,
                        const char* field, std::vector<std::string>* out) {
  if (!value.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": \"", field, "\" must be an array"));
  }
  for (const json& element : value) {
    std::string text;
    if (element.is_object() && element.contains(key) && ScalarToString(element[key], &text)) {
      out->push_back(text);
    } else if (ScalarToString(element, &text)) {
      out->push_back(text);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"", field, "\" holds a value that is not text"));
    }
  }
  return absl::OkStatus();
}

std::string OptionalString(const json& record, const char* key) {
  std::string out;
  if (record.contains(key)) ScalarToString(record[key], &out);
  return out;
}

absl::Status CheckItem(const EvalItem& item, EvalTask task, const std::string& where) {
  switch (task) {
    case EvalTask::kVqa:
      if (item.answers.empty()) return absl::InvalidArgumentError(where + ": no \"answers\"");
      break;
    case EvalTask::kLong:
    case EvalTask::kDescribe:
      if (item.references.empty()) {
        return absl::InvalidArgumentError(where + ": no \"references\" (or captions/answers)");
      }
      break;
    case EvalTask::kChoice:
      if (item.choices.empty()) return absl::InvalidArgumentError(where + ": no \"choices\"");
      if (item.answer_index < 0 || item.answer_index >= static_cast<int>(item.choices.size())) {
        return absl::InvalidArgumentError(where + ": \"answer\" is not one of the choices");
      }
      break;
  }
  if (item.id.empty())
    return absl::InvalidArgumentError(where + ": no question_id / id / image_id");
  return absl::OkStatus();
}

absl::StatusOr<EvalItem> ParseGenericRecord(const json& record, EvalTask task,
                                            const std::string& where) {
  if (!record.is_object()) return absl::InvalidArgumentError(where + ": not a JSON object");
  EvalItem item;
  for (const char* key : {"question_id", "id", "image_id"}) {
    if (record.contains(key) && ScalarToString(record[key], &item.id, &item.id_is_number)) break;
  }
  item.image_id = OptionalString(record, "image_id");
  for (const char* key : {"image", "image_file", "image_path", "file_name"}) {
    item.image = OptionalString(record, key);
    if (!item.image.empty()) break;
  }
  item.question = OptionalString(record, "question");
  item.answer_type = OptionalString(record, "answer_type");
  item.question_type = OptionalString(record, "question_type");
  if (record.contains("answers")) {
    LMEYE_RETURN_IF_ERROR(StringList(record["answers"], "answer", where, "answers", &item.answers));
  }
  for (const char* key : {"references", "captions"}) {
    if (record.contains(key)) {
      LMEYE_RETURN_IF_ERROR(StringList(record[key], "caption", where, key, &item.references));
      break;
    }
  }
  if (item.references.empty() && record.contains("caption") && record["caption"].is_string()) {
    item.references.push_back(record["caption"]);
  }
  if (item.references.empty() && task == EvalTask::kLong) {
    item.references = item.answers;  // long-answer JSONL may call its references "answers"
    if (item.references.empty() && record.contains("answer") && record["answer"].is_string()) {
      item.references.push_back(record["answer"]);
    }
  }
  if (record.contains("choices")) {
    LMEYE_RETURN_IF_ERROR(StringList(record["choices"], "text", where, "choices", &item.choices));
    for (const char* key : {"answer", "answer_index", "label"}) {
      if (!record.contains(key)) continue;
      const json& answer = record[key];
      if (answer.is_number_integer()) {
        // Range-checked before narrowing: get<int>() wraps 4294967296 to 0, which would make an
        // out-of-range answer the first choice instead of an error.
        const bool in_range =
            answer.is_number_unsigned()
                ? answer.get<uint64_t>() < item.choices.size()
                : answer.get<int64_t>() >= 0 &&
                      answer.get<int64_t>() < static_cast<int64_t>(item.choices.size());
        item.answer_index = in_range ? answer.get<int>() : -1;
      } else if (answer.is_string()) {
        for (size_t c = 0; c < item.choices.size(); ++c) {
          if (item.choices[c] == answer.get<std::string>()) item.answer_index = static_cast<int>(c);
        }
      }
      break;
    }
  }
  if (task == EvalTask::kVqa && item.answers.empty() && record.contains("answer") &&
      record["answer"].is_string()) {
    item.answers.push_back(record["answer"]);
  }
  LMEYE_RETURN_IF_ERROR(CheckItem(item, task, where));
  return item;
}

// Splits JSONL into (line number, text) for non-blank lines.
std::vector<std::pair<int, std::string>> JsonlLines(const std::string& contents) {
  std::vector<std::pair<int, std::string>> lines;
  std::istringstream in(contents);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.emplace_back(number, line);
  }
  return lines;
}

// Records of a JSON array or of JSONL, with their line numbers (0 for array elements).
absl::StatusOr<std::vector<std::pair<int, json>>> Records(const std::string& contents,
                                                          const std::string& source) {
  std::vector<std::pair<int, json>> records;
  const size_t first = contents.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && contents[first] == '[') {
    LMEYE_ASSIGN_OR_RETURN(json array, ParseJson(contents, source));
    for (json& record : array) records.emplace_back(0, std::move(record));
    return records;
  }
  for (const auto& [number, line] : JsonlLines(contents)) {
    LMEYE_ASSIGN_OR_RETURN(json record, ParseJson(line, Where(source, number)));
    records.emplace_back(number, std::move(record));
  }
  return records;
}

}  // namespace

absl::StatusOr<EvalTask> ParseEvalTask(const std::string& name) {
  if (name == "vqa") return EvalTask::kVqa;
  if (name == "long") return EvalTask::kLong;
  if (name == "describe") return EvalTask::kDescribe;
  if (name == "choice") return EvalTask::kChoice;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown task \"", name, "\" (expected vqa, long, describe or choice)"));
}

const char* EvalTaskName(EvalTask task) {
  switch (task) {
    case EvalTask::kVqa:
      return "vqa";
    case EvalTask::kLong:
      return "long";
    case EvalTask::kDescribe:
      return "describe";
    case EvalTask::kChoice:
      return "choice";
  }
  return "?";
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<EvalDataset> ParseVqaV2Dataset(const std::string& questions_json,
                                              const std::string& annotations_json) {
  LMEYE_ASSIGN_OR_RETURN(const json questions, ParseJson(questions_json, "questions"));
  LMEYE_ASSIGN_OR_RETURN(const json annotations, ParseJson(annotations_json, "annotations"));
  if (!questions.contains("questions") || !questions["questions"].is_array()) {
    return absl::InvalidArgumentError("questions: no \"questions\" array");
  }
  if (!annotations.contains("annotations") || !annotations["annotations"].is_array()) {
    return absl::InvalidArgumentError("annotations: no \"annotations\" array");
  }
  std::unordered_map<std::string, std::string> question_text;
  for (const json& q : questions["questions"]) {
    std::string id;
    if (!q.is_object() || !q.contains("question_id") || !ScalarToString(q["question_id"], &id)) {
      return absl::InvalidArgumentError("questions: an entry without question_id");
    }
    question_text[id] = OptionalString(q, "question");
  }
  EvalDataset dataset;
  dataset.task = EvalTask::kVqa;
  for (const json& a : annotations["annotations"]) {
    LMEYE_ASSIGN_OR_RETURN(EvalItem item, ParseGenericRecord(a, EvalTask::kVqa, "annotations"));
    const auto q = question_text.find(item.id);
    if (q != question_text.end()) {
      item.question = q->second;
      question_text.erase(q);
    }
    dataset.items.push_back(std::move(item));
  }
  if (!question_text.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("questions: ", question_text.size(),
                                                   " question(s) have no annotation, e.g. ",
                                                   question_text.begin()->first));
  }
  return dataset;
}

absl::StatusOr<EvalDataset> ReadVqaV2Dataset(const std::string& questions_path,
                                             const std::string& annotations_path) {
  LMEYE_ASSIGN_OR_RETURN(const std::string questions, ReadTextFile(questions_path));
  LMEYE_ASSIGN_OR_RETURN(const std::string annotations, ReadTextFile(annotations_path));
  return ParseVqaV2Dataset(questions, annotations);
}

absl::StatusOr<EvalDataset> ParseJsonlDataset(const std::string& contents, EvalTask task) {
  EvalDataset dataset;
  dataset.task = task;
  LMEYE_ASSIGN_OR_RETURN(const auto records, Records(contents, "jsonl"));
  for (const auto& [number, record] : records) {
    LMEYE_ASSIGN_OR_RETURN(EvalItem item, ParseGenericRecord(record, task, Where("jsonl", number)));
    dataset.items.push_back(std::move(item));
  }
  return dataset;
}

absl::StatusOr<EvalDataset> ReadJsonlDataset(const std::string& path, EvalTask task) {
  LMEYE_ASSIGN_OR_RETURN(const std::string contents, ReadTextFile(path));
  absl::StatusOr<EvalDataset> dataset = ParseJsonlDataset(contents, task);
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(),
                        absl::StrCat(path, ": ", dataset.status().message()));
  }
  return dataset;
}

absl::StatusOr<EvalDataset> ParseLmeyeLongAnswerDataset(const std::string& contents,
                                                        EvalTask task) {
  if (task != EvalTask::kLong && task != EvalTask::kDescribe) {
    return absl::InvalidArgumentError("the LMEye long-answer data serves tasks long and describe");
  }
  EvalDataset dataset;
  dataset.task = task;
  LMEYE_ASSIGN_OR_RETURN(const auto records, Records(contents, "lmeye"));
  for (const auto& [number, record] : records) {
    const std::string where = Where("lmeye", number);
    if (!record.is_object()) return absl::InvalidArgumentError(where + ": not a JSON object");
    EvalItem base;
    if (!record.contains("image_id") ||
        !ScalarToString(record["image_id"], &base.image_id, &base.id_is_number)) {
      return absl::InvalidArgumentError(where + ": no image_id");
    }
    base.image = OptionalString(record, "image_file");
    if (task == EvalTask::kDescribe) {
      EvalItem item = base;
      item.id = base.image_id;
      const std::string caption = OptionalString(record, "caption");
      if (caption.empty()) return absl::InvalidArgumentError(where + ": no caption");
      item.references.push_back(caption);
      dataset.items.push_back(std::move(item));
      continue;
    }
    if (!record.contains("qa") || !record["qa"].is_array()) {
      return absl::InvalidArgumentError(where + ": no \"qa\" array");
    }
    int k = 0;
    for (const json& qa : record["qa"]) {
      EvalItem item = base;
      item.id = absl::StrCat(base.image_id, "_", k++);
      item.id_is_number = false;
      item.question = qa.is_object() ? OptionalString(qa, "question") : "";
      const std::string answer = qa.is_object() ? OptionalString(qa, "answer") : "";
      if (item.question.empty() || answer.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": qa[", k - 1, "] needs a question and an answer"));
      }
      item.references.push_back(answer);
      dataset.items.push_back(std::move(item));
    }
  }
  return dataset;
}

absl::StatusOr<EvalDataset> ReadLmeyeLongAnswerDataset(const std::string& path, EvalTask task) {
  LMEYE_ASSIGN_OR_RETURN(const std::string contents, ReadTextFile(path));
  absl::StatusOr<EvalDataset> dataset = ParseLmeyeLongAnswerDataset(contents, task);
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(),
                        absl::StrCat(path, ": ", dataset.status().message()));
  }
  return dataset;
}

absl::StatusOr<EvalDataset> ReadDataset(const std::string& path, EvalTask task) {
  LMEYE_ASSIGN_OR_RETURN(const std::string contents, ReadTextFile(path));
  absl::StatusOr<std::vector<std::pair<int, json>>> records = Records(contents, path);
  const bool lmeye = records.ok() && !records->empty() && records->front().second.is_object() &&
                     records->front().second.contains("qa");
  absl::StatusOr<EvalDataset> dataset =
      lmeye ? ParseLmeyeLongAnswerDataset(contents, task) : ParseJsonlDataset(contents, task);
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(),
                        absl::StrCat(path, ": ", dataset.status().message()));
  }
  return dataset;
}

}  // namespace lmeye::eval
