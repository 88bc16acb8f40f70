#include "model/train/text_manifest.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// The document of one line, or why there is none.
absl::StatusOr<std::string> ParseTextLine(const std::string& line) {
  nlohmann::json obj = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!obj.is_object()) return absl::InvalidArgumentError("expected a JSON object");
  const char* key = obj.contains("text") ? "text" : obj.contains("caption") ? "caption" : nullptr;
  if (key == nullptr) return absl::InvalidArgumentError("missing \"text\" (or \"caption\")");
  if (!obj[key].is_string()) {
    return absl::InvalidArgumentError(std::string("\"") + key + "\" must be a string");
  }
  std::string text = obj[key].get<std::string>();
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(std::string("\"") + key + "\" is empty");
  }
  return text;
}

}  // namespace

absl::StatusOr<TextManifest> ReadTextManifest(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
  TextManifest manifest;
  manifest.path = path;
  std::istringstream in(content);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    ++manifest.n_lines;
    absl::StatusOr<std::string> text = ParseTextLine(line);
    if (!text.ok()) {
      manifest.issues.push_back({number, std::string(text.status().message())});
      continue;
    }
    manifest.documents.push_back({number, *std::move(text)});
  }
  return manifest;
}

}  // namespace lmeye
