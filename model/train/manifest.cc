#include "model/train/manifest.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

absl::Status Bad(const std::string& why) { return absl::InvalidArgumentError(why); }

// A required non-empty string field of `obj`.
absl::StatusOr<std::string> StringField(const nlohmann::json& obj, const char* key,
                                        const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(absl::StrCat(where, "missing \"", key, "\""));
  if (!it->is_string()) return Bad(absl::StrCat(where, "\"", key, "\" must be a string"));
  std::string value = it->get<std::string>();
  if (absl::StripAsciiWhitespace(value).empty()) {
    return Bad(absl::StrCat(where, "\"", key, "\" is empty"));
  }
  return value;
}

absl::StatusOr<std::vector<ChatMessage>> ParseConversation(const nlohmann::json& turns) {
  if (!turns.is_array()) return Bad("\"conversations\" must be an array");
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < turns.size(); ++i) {
    const std::string where = absl::StrCat("conversations[", i, "]: ");
    if (!turns[i].is_object()) return Bad(absl::StrCat(where, "must be an object"));
    LMEYE_ASSIGN_OR_RETURN(std::string from, StringField(turns[i], "from", where));
    LMEYE_ASSIGN_OR_RETURN(std::string value, StringField(turns[i], "value", where));
    std::optional<ChatRole> role = ChatRoleFromName(from);
    if (!role.has_value()) {
      return Bad(absl::StrCat(where, "unknown role \"", from, "\" (human/user, gpt/assistant)"));
    }
    const ChatRole expected = i % 2 == 0 ? ChatRole::kHuman : ChatRole::kAssistant;
    if (*role != expected) {
      return Bad(absl::StrCat(where, "expected a ", expected == ChatRole::kHuman ? "human" : "gpt",
                              " turn"));
    }
    // The image has one fixed place in LMEye's layout; the marker carries nothing else. Removed
    // until none is left: "<im<image>age>" would otherwise leave one, which a manifest written
    // back (matching_data.h) would lose on its next read.
    std::string text = value;
    for (size_t at; (at = text.find("<image>")) != std::string::npos;) text.erase(at, 7);
    text = std::string(absl::StripAsciiWhitespace(text));
    if (text.empty()) return Bad(absl::StrCat(where, "\"value\" is empty without <image>"));
    messages.push_back({*role, std::move(text)});
  }
  if (!messages.empty() && messages.back().role == ChatRole::kHuman) messages.pop_back();
  if (messages.empty()) return Bad("\"conversations\" has no gpt answer");
  return messages;
}

// An optional array of non-empty strings (stripped); `what` names its elements in the error.
absl::StatusOr<std::vector<std::string>> TextList(const nlohmann::json& obj, const char* key,
                                                  const char* what) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end()) return out;
  if (!it->is_array()) return Bad(absl::StrCat("\"", key, "\" must be an array of ", what));
  for (const nlohmann::json& n : *it) {
    if (!n.is_string() || absl::StripAsciiWhitespace(n.get<std::string>()).empty()) {
      return Bad(absl::StrCat("\"", key, "\" must hold non-empty strings"));
    }
    out.push_back(std::string(absl::StripAsciiWhitespace(n.get<std::string>())));
  }
  return out;
}

}  // namespace

std::string Manifest::IssueText(const ManifestIssue& issue) const {
  return absl::StrCat(path, ":", issue.line, ": ", issue.message);
}

absl::StatusOr<ManifestRecord> ParseManifestLine(const std::string& line, const std::string& dir) {
  nlohmann::json obj = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Bad("not valid JSON");
  if (!obj.is_object()) return Bad("expected a JSON object");
  ManifestRecord record;
  LMEYE_ASSIGN_OR_RETURN(std::string image, StringField(obj, "image", ""));
  record.image = image[0] == '/' || dir.empty() ? image : absl::StrCat(dir, "/", image);
  const bool has_caption = obj.contains("caption");
  const bool has_conversation = obj.contains("conversations");
  const bool has_question = obj.contains("question");
  if (has_caption + has_conversation + has_question != 1) {
    return Bad("expected exactly one of \"caption\", \"conversations\" and \"question\"");
  }
  if (has_question) {
    LMEYE_ASSIGN_OR_RETURN(std::string question, StringField(obj, "question", ""));
    LMEYE_ASSIGN_OR_RETURN(std::string answer, StringField(obj, "answer", ""));
    record.question = std::string(absl::StripAsciiWhitespace(question));
    record.answer = std::string(absl::StripAsciiWhitespace(answer));
  } else if (has_caption) {
    LMEYE_ASSIGN_OR_RETURN(std::string caption, StringField(obj, "caption", ""));
    record.caption = std::string(absl::StripAsciiWhitespace(caption));
    LMEYE_ASSIGN_OR_RETURN(record.negatives, TextList(obj, "negatives", "captions"));
    LMEYE_ASSIGN_OR_RETURN(record.labels, TextList(obj, "labels", "short texts"));
  } else {
    LMEYE_ASSIGN_OR_RETURN(record.conversation, ParseConversation(obj["conversations"]));
  }
  return record;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  Manifest manifest;
  manifest.path = path;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    ++manifest.n_lines;
    absl::StatusOr<ManifestRecord> record = ParseManifestLine(line, dir);
    if (!record.ok()) {
      manifest.issues.push_back({number, std::string(record.status().message())});
      continue;
    }
    record->line = number;
    manifest.records.push_back(*std::move(record));
  }
  return manifest;
}

}  // namespace lmeye
