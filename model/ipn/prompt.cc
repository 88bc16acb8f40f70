#include "model/ipn/prompt.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/ipn/marked_prompt.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Request text must be non-blank UTF-8: the gRPC edge checks UTF-8 too, but the builder is also
// called from the CLI and the trainer.
absl::Status CheckText(absl::string_view field, absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) return FieldError(field, "is empty");
  for (size_t i = 0; i < text.size();) {
    const Utf8Sequence seq = ScanUtf8(text.substr(i));
    if (seq.kind != Utf8Sequence::kComplete) {
      return FieldError(field, absl::StrCat("is not valid UTF-8 (byte ", i, ")"));
    }
    i += seq.length;
  }
  return absl::OkStatus();
}

// No vocabulary has tokens near this long, so text over max_prompt_tokens * kMaxBytesPerToken
// bytes is over the token limit for sure: refused before spending time tokenizing megabytes.
constexpr size_t kMaxBytesPerToken = 1024;

absl::Status CheckSize(absl::string_view field, size_t bytes, int max_tokens) {
  if (bytes <= static_cast<size_t>(max_tokens) * kMaxBytesPerToken) return absl::OkStatus();
  return FieldError(field, absl::StrCat("is too long (", bytes, " bytes of text for a limit of ",
                                        max_tokens, " tokens, max_prompt_tokens)"));
}

const char* RoleName(ChatRole role) { return role == ChatRole::kHuman ? "human" : "assistant"; }

}  // namespace

std::optional<ChatRole> ChatRoleFromName(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "human" || lower == "user") return ChatRole::kHuman;
  if (lower == "assistant" || lower == "gpt") return ChatRole::kAssistant;
  return std::nullopt;
}

absl::Status PromptLimits::Validate() const {
  // 3 = the smallest prompt: h_img, one text token, <img-d>.
  if (max_prompt_tokens < 3) {
    return absl::InvalidArgumentError("limits.max_prompt_tokens: must be at least 3");
  }
  if (max_choices < 1) return absl::InvalidArgumentError("limits.max_choices: must be at least 1");
  return absl::OkStatus();
}

absl::StatusOr<PromptBuilder> PromptBuilder::Create(const Tokenizer* tokenizer,
                                                    PromptTemplates templates, PromptLimits limits,
                                                    std::optional<MarkedPromptOptions> marked) {
  if (tokenizer == nullptr) return absl::InvalidArgumentError("PromptBuilder: no tokenizer");
  LMEYE_RETURN_IF_ERROR(templates.Validate());
  if (marked.has_value()) {
    LMEYE_RETURN_IF_ERROR(ValidateMarkedTemplates(templates, *marked));
    if (marked->add_bos && tokenizer->bos_id() < 0) {
      return absl::InvalidArgumentError("PromptBuilder: add_bos, but the tokenizer has no BOS");
    }
  }
  LMEYE_RETURN_IF_ERROR(limits.Validate());
  // Whether Encode() starts a text with a space of its own: SentencePiece's dummy prefix gives
  // "a" -> "▁a", byte-level BPE gives "a". Probed rather than read from the family so that any
  // tokenizer behind the interface gets continuations right.
  LMEYE_ASSIGN_OR_RETURN(std::vector<int> probe, tokenizer->Encode("a"));
  const bool dummy_prefix =
      !probe.empty() && absl::StartsWith(tokenizer->IdToPiece(probe[0]), "\xE2\x96\x81");
  return PromptBuilder(tokenizer, std::move(templates), limits, dummy_prefix, marked);
}

absl::StatusOr<IpnPrompt> PromptBuilder::Build(absl::string_view tmpl, absl::string_view q,
                                               absl::string_view field, const std::string& before,
                                               int extra_tokens) const {
  const std::string text = before + RenderPromptTemplate(tmpl, q);
  LMEYE_RETURN_IF_ERROR(CheckSize(field, text.size(), limits_.max_prompt_tokens));
  IpnPrompt prompt;
  if (marked_.has_value()) {
    auto built = BuildMarkedPrompt(*tokenizer_, tmpl, q, before, *marked_);
    if (!built.ok()) return FieldError(field, built.status().message());
    prompt = *std::move(built);
  } else {
    prompt.prefix = tokenizer_->PromptPrefix();
    auto ids = tokenizer_->Encode(text);
    if (!ids.ok()) return FieldError(field, ids.status().message());
    prompt.text = *std::move(ids);
  }
  const int n = prompt.n_positions() + extra_tokens;
  if (n > limits_.max_prompt_tokens) {
    return FieldError(field, absl::StrCat("the prompt takes ", n, " tokens, more than the limit (",
                                          limits_.max_prompt_tokens, ", max_prompt_tokens)"));
  }
  return prompt;
}

absl::StatusOr<IpnPrompt> PromptBuilder::AnswerVqa(absl::string_view question,
                                                   VqaStyle style) const {
  LMEYE_RETURN_IF_ERROR(CheckText("question", question));
  const std::string& tmpl = style == VqaStyle::kShort ? templates_.vqa_short : templates_.vqa_long;
  return Build(tmpl, question, "question");
}

absl::StatusOr<ChoicePrompt> PromptBuilder::MultipleChoice(
    absl::string_view question, absl::Span<const std::string> choices) const {
  LMEYE_RETURN_IF_ERROR(CheckText("question", question));
  if (choices.empty()) return FieldError("choices", "is empty");
  if (choices.size() > static_cast<size_t>(limits_.max_choices)) {
    return FieldError("choices",
                      absl::StrCat("has ", choices.size(), " entries, more than the limit (",
                                   limits_.max_choices, ", max_choices)"));
  }
  ChoicePrompt out;
  size_t longest = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    const std::string field = absl::StrCat("choices[", i, "]");
    LMEYE_RETURN_IF_ERROR(CheckText(field, choices[i]));
    LMEYE_RETURN_IF_ERROR(CheckSize(field, choices[i].size(), limits_.max_prompt_tokens));
    auto ids = EncodeContinuation(choices[i]);
    if (!ids.ok()) return FieldError(field, ids.status().message());
    out.choices.push_back(*std::move(ids));
    if (out.choices[i].size() > out.choices[longest].size()) longest = i;
  }
  LMEYE_ASSIGN_OR_RETURN(out.prompt, Build(templates_.multiple_choice, question, "question"));
  // Scoring runs the prompt and a choice through the LLM together.
  const int n = out.prompt.n_positions() + static_cast<int>(out.choices[longest].size());
  if (n > limits_.max_prompt_tokens) {
    return FieldError(
        absl::StrCat("choices[", longest, "]"),
        absl::StrCat("the prompt with this choice takes ", n, " tokens, more than the limit (",
                     limits_.max_prompt_tokens, ", max_prompt_tokens)"));
  }
  return out;
}

absl::StatusOr<IpnPrompt> PromptBuilder::Describe() const {
  return Build(templates_.describe, "", "prompts.describe");
}

absl::StatusOr<std::string> PromptBuilder::EarlierTurns(
    absl::Span<const ChatMessage> messages) const {
  if (messages.empty()) return FieldError("messages", "is empty");
  if (messages.back().role != ChatRole::kHuman) {
    return FieldError(absl::StrCat("messages[", messages.size() - 1, "].role"),
                      "the last message must be from the human (the model answers it)");
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatRole expected = i % 2 == 0 ? ChatRole::kHuman : ChatRole::kAssistant;
    if (messages[i].role != expected) {
      return FieldError(
          absl::StrCat("messages[", i, "].role"),
          absl::StrCat("is ", RoleName(messages[i].role), "; expected ", RoleName(expected),
                       " (turns alternate, starting with the human)"));
    }
    LMEYE_RETURN_IF_ERROR(CheckText(absl::StrCat("messages[", i, "].text"), messages[i].text));
  }
  std::string text;
  for (size_t i = 0; i + 1 < messages.size(); i += 2) {
    text += RenderPromptTemplate(templates_.chat_turn, messages[i].text, messages[i + 1].text);
  }
  return text;
}

absl::StatusOr<std::string> PromptBuilder::ChatText(absl::Span<const ChatMessage> messages) const {
  LMEYE_ASSIGN_OR_RETURN(std::string before, EarlierTurns(messages));
  return before + RenderPromptTemplate(templates_.chat_last, messages.back().text);
}

absl::StatusOr<IpnPrompt> PromptBuilder::Chat(absl::Span<const ChatMessage> messages) const {
  LMEYE_ASSIGN_OR_RETURN(std::string before, EarlierTurns(messages));
  return Build(templates_.chat_last, messages.back().text, "messages", before);
}

absl::StatusOr<std::vector<int>> PromptBuilder::EncodeContinuation(absl::string_view text) const {
  if (dummy_prefix_) return tokenizer_->Encode(text);
  return tokenizer_->Encode(absl::StrCat(" ", text));
}

}  // namespace lmeye
