#include "model/ipn/prompt_templates.h"

#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// One piece of a parsed template: literal text, or a placeholder name.
struct Segment {
  bool is_placeholder;
  std::string text;
};

absl::StatusOr<std::vector<Segment>> ParseTemplate(absl::string_view tmpl) {
  std::vector<Segment> out;
  std::string literal;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      literal += '{';
      ++i;
    } else if (c == '}' && i + 1 < tmpl.size() && tmpl[i + 1] == '}') {
      literal += '}';
      ++i;
    } else if (c == '{') {
      const size_t end = tmpl.find('}', i + 1);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("unclosed '{' at offset ", i, " (write {{ for a literal brace)"));
      }
      if (!literal.empty()) out.push_back({false, std::move(literal)});
      literal.clear();
      out.push_back({true, std::string(tmpl.substr(i + 1, end - i - 1))});
      i = end;
    } else if (c == '}') {
      return absl::InvalidArgumentError(
          absl::StrCat("unmatched '}' at offset ", i, " (write }} for a literal brace)"));
    } else {
      literal += c;
    }
  }
  if (!literal.empty()) out.push_back({false, std::move(literal)});
  return out;
}

absl::Status CheckPlaceholders(absl::string_view field, absl::string_view tmpl,
                               const std::vector<std::string>& required) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("prompts.", field, ": ", what));
  };
  auto parsed = ParseTemplate(tmpl);
  if (!parsed.ok()) return error(parsed.status().message());
  if (tmpl.empty()) return error("must not be empty");
  std::map<std::string, int> seen;
  for (const Segment& s : *parsed) {
    if (s.is_placeholder) ++seen[s.text];
  }
  for (const auto& [name, count] : seen) {
    bool known = false;
    for (const std::string& r : required) known = known || r == name;
    if (!known) {
      std::string allowed;
      for (const std::string& r : required) absl::StrAppend(&allowed, " {", r, "}");
      return error(absl::StrCat("has placeholder {", name,
                                "}; allowed here:", required.empty() ? " none" : allowed));
    }
    if (count != 1) return error(absl::StrCat("has {", name, "} ", count, " times; needs it once"));
  }
  for (const std::string& r : required) {
    if (!seen.count(r)) return error(absl::StrCat("must contain {", r, "}"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PromptTemplates::Validate() const {
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("vqa_short", vqa_short, {"q"}));
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("vqa_long", vqa_long, {"q"}));
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("multiple_choice", multiple_choice, {"q"}));
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("describe", describe, {}));
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("chat_turn", chat_turn, {"q", "a"}));
  LMEYE_RETURN_IF_ERROR(CheckPlaceholders("chat_last", chat_last, {"q"}));
  return absl::OkStatus();
}

const std::map<std::string, std::string PromptTemplates::*>& PromptTemplateFields() {
  static const auto* fields = new std::map<std::string, std::string PromptTemplates::*>{
      {"vqa_short", &PromptTemplates::vqa_short},
      {"vqa_long", &PromptTemplates::vqa_long},
      {"multiple_choice", &PromptTemplates::multiple_choice},
      {"describe", &PromptTemplates::describe},
      {"chat_turn", &PromptTemplates::chat_turn},
      {"chat_last", &PromptTemplates::chat_last},
  };
  return *fields;
}

absl::StatusOr<PromptTemplates> ParsePromptTemplates(
    const std::map<std::string, std::string>& overrides) {
  return ParsePromptTemplates(overrides, PromptTemplates());
}

absl::StatusOr<PromptTemplates> ParsePromptTemplates(
    const std::map<std::string, std::string>& overrides, const PromptTemplates& base) {
  PromptTemplates t = base;
  const auto& fields = PromptTemplateFields();
  for (const auto& [name, value] : overrides) {
    auto it = fields.find(name);
    if (it == fields.end()) {
      std::string known;
      for (const auto& [k, unused] : fields) absl::StrAppend(&known, known.empty() ? "" : ", ", k);
      return absl::InvalidArgumentError(
          absl::StrCat("prompts.", name, ": not a known template (known: ", known, ")"));
    }
    t.*(it->second) = value;
  }
  LMEYE_RETURN_IF_ERROR(t.Validate());
  return t;
}

absl::StatusOr<PromptTemplates> ParsePromptTemplates(const nlohmann::json& overrides) {
  if (overrides.is_null()) return ParsePromptTemplates(std::map<std::string, std::string>{});
  if (!overrides.is_object()) {
    return absl::InvalidArgumentError("prompts: must be a map of template name to text");
  }
  std::map<std::string, std::string> map;
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(absl::StrCat("prompts.", it.key(), ": must be a string"));
    }
    map[it.key()] = it.value().get<std::string>();
  }
  return ParsePromptTemplates(map);
}

std::string RenderPromptTemplate(absl::string_view tmpl, absl::string_view q, absl::string_view a) {
  auto parsed = ParseTemplate(tmpl);
  if (!parsed.ok()) return std::string(tmpl);  // precondition broken: show it as it is
  std::string out;
  for (const Segment& s : *parsed) {
    if (!s.is_placeholder) {
      out += s.text;
    } else if (s.text == "q") {
      out.append(q.data(), q.size());
    } else if (s.text == "a") {
      out.append(a.data(), a.size());
    }
  }
  return out;
}

}  // namespace lmeye
