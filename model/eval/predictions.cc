#include "model/eval/predictions.h"

#include <sstream>
#include <unordered_set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace lmeye::eval {
namespace {

using nlohmann::json;

absl::StatusOr<Prediction> ParseOne(const json& record, const std::string& where) {
  if (!record.is_object()) return absl::InvalidArgumentError(where + ": not a JSON object");
  Prediction p;
  bool have_id = false;
  for (const char* key : {"question_id", "image_id", "id"}) {
    if (!record.contains(key)) continue;
    const json& id = record[key];
    if (id.is_string()) {
      p.id = id.get<std::string>();
    } else if (id.is_number()) {
      p.id = id.dump();
      p.id_is_number = true;
    } else {
      continue;
    }
    have_id = true;
    break;
  }
  if (!have_id) return absl::InvalidArgumentError(where + ": no question_id / image_id / id");
  for (const char* key : {"answer", "caption", "prediction", "text"}) {
    if (record.contains(key) && record[key].is_string()) {
      p.text = record[key].get<std::string>();
      return p;
    }
  }
  return absl::InvalidArgumentError(where + ": no answer / caption / prediction text");
}

}  // namespace

absl::StatusOr<std::vector<Prediction>> ParsePredictions(const std::string& contents) {
  std::vector<Prediction> predictions;
  const size_t first = contents.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && contents[first] == '[') {
    const json array = json::parse(contents, nullptr, /*allow_exceptions=*/false);
    if (array.is_discarded() || !array.is_array()) {
      return absl::InvalidArgumentError("predictions: invalid JSON array");
    }
    for (size_t i = 0; i < array.size(); ++i) {
      LMEYE_ASSIGN_OR_RETURN(Prediction p,
                             ParseOne(array[i], absl::StrCat("predictions[", i, "]")));
      predictions.push_back(std::move(p));
    }
  } else {
    std::istringstream in(contents);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = absl::StrCat("predictions:", number);
      const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) return absl::InvalidArgumentError(where + ": invalid JSON");
      LMEYE_ASSIGN_OR_RETURN(Prediction p, ParseOne(record, where));
      predictions.push_back(std::move(p));
    }
  }
  std::unordered_set<std::string> seen;
  for (const Prediction& p : predictions) {
    if (!seen.insert(p.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("predictions: duplicate id ", p.id));
    }
  }
  return predictions;
}

absl::StatusOr<std::vector<Prediction>> ReadPredictions(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(const std::string contents, ReadTextFile(path));
  absl::StatusOr<std::vector<Prediction>> predictions = ParsePredictions(contents);
  if (!predictions.ok()) {
    return absl::Status(predictions.status().code(),
                        absl::StrCat(path, ": ", predictions.status().message()));
  }
  return predictions;
}

std::string FormatPredictions(EvalTask task, const std::vector<Prediction>& predictions) {
  const bool captions = task == EvalTask::kDescribe;
  json array = json::array();
  for (const Prediction& p : predictions) {
    json record = json::object();
    json id = p.id;
    if (p.id_is_number) {
      const json parsed = json::parse(p.id, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_discarded() && parsed.is_number()) id = parsed;
    }
    record[captions ? "image_id" : "question_id"] = id;
    record[captions ? "caption" : "answer"] = p.text;
    array.push_back(std::move(record));
  }
  // Model output may hold invalid UTF-8; replace it rather than throw.
  return array.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace lmeye::eval
