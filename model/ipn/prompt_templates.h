// The prompt templates of docs/DESIGN.md section 2, in one place, and their config overrides.
//
// A template is text with named placeholders: `{q}` (the user's question or message) and `{a}`
// (an earlier assistant answer). `{{` and `}}` are literal braces. Rendering is one pass over the
// template, so a placeholder value is never re-scanned: a question containing "{a}" stays
// literal text. The `<img>` and `<img-d>` slots are not in any template: they are positions the
// engine fills with embeddings (see prompt.h), so no template and no user text can create one.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

struct PromptTemplates {
  // AnswerVQA, short answers (VQAv2, OK-VQA style): the paper's format.
  std::string vqa_short = "Question: {q}\nAnswer:";
  // AnswerVQA, long answers. The paper names no wording for this; "in detail" is the smallest
  // change to the short format that asks for a sentence instead of a word, in the style of the
  // describe prompt.
  std::string vqa_long = "Question: {q}\nAnswer in detail:";
  // Multiple choice (VCR style): the prompt each choice is scored after. The choices are not
  // listed in it: each is scored as the continuation of this prompt (PromptBuilder).
  std::string multiple_choice = "Question: {q}\nAnswer:";
  // Describe: a fixed instruction, no placeholder.
  std::string describe = "Give a detailed description of this image.";
  // Chat: every completed turn is rendered with chat_turn, the last (open) turn with chat_last,
  // and the pieces are concatenated. The defaults give docs/DESIGN.md's
  // "Human: {q1}\nAssistant: {a1}\nHuman: {q2}\nAssistant:".
  std::string chat_turn = "Human: {q}\nAssistant: {a}\n";
  std::string chat_last = "Human: {q}\nAssistant:";

  // Each template has exactly the placeholders it needs, each once: {q} in vqa_short, vqa_long,
  // multiple_choice and chat_last; {q} and {a} in chat_turn; none in describe. Unknown
  // placeholders and unbalanced braces are errors. InvalidArgument naming the field
  // ("prompts.vqa_short: ...").
  absl::Status Validate() const;
};

// The field names accepted by the parsers below, in declaration order.
const std::map<std::string, std::string PromptTemplates::*>& PromptTemplateFields();

// Defaults overridden by `overrides` (field name -> template), then validated. Unknown field
// names are an error: a typo must not silently mean the default.
absl::StatusOr<PromptTemplates> ParsePromptTemplates(
    const std::map<std::string, std::string>& overrides);
// The same over other defaults (a layout's own templates, e.g. LingcloudV0PromptTemplates).
absl::StatusOr<PromptTemplates> ParsePromptTemplates(
    const std::map<std::string, std::string>& overrides, const PromptTemplates& base);

// The same from a JSON object of strings (the `prompts` section of the server config).
absl::StatusOr<PromptTemplates> ParsePromptTemplates(const nlohmann::json& overrides);

// Renders `tmpl` with the values of {q} and {a}. The template must have passed Validate();
// a placeholder whose value is not given renders as empty.
std::string RenderPromptTemplate(absl::string_view tmpl, absl::string_view q,
                                 absl::string_view a = {});

}  // namespace lmeye
