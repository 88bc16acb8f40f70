// Prompts as token ids laid out for the IPN (docs/DESIGN.md section 2).
//
// The LLM sees `[E[P], h_img, E[X], slot]`: P is the family's BOS (or nothing), h_img the image
// embedding, X the prompt text's tokens, and the `<img-d>` slot ends the prompt. The two slots
// are positions, not tokens: IpnPrompt carries P and X, and the engine puts the embeddings
// between and after them. No text can create a slot or a special token: Encode() never produces
// one, so a user typing "<img-d>", "<img>" or "</s>" gets those characters as ordinary tokens.
//
// Tokenization: X is the whole rendered prompt text encoded in one Encode() call, never the
// template pieces encoded apart, because byte-level BPE and SentencePiece give different ids at
// piece boundaries and the reference code tokenizes the full string. For SentencePiece this
// means X starts with the dummy-prefix space ("▁Question"), as Hugging Face gives after BOS.
//
// Chat: earlier turns are plain text in X (after the image), the last turn ends with
// "Assistant:" and the slot follows it. The image sits once, before the whole conversation
// (not before the last question), so a later turn's ids start with [P, h_img] and the earlier
// turns' text: a prefix cache keyed by (image, ids) can reuse an earlier turn's KV.
//
// Threading: a PromptBuilder is immutable after Create(); all methods may be called from any
// thread (the tokenizer's const methods are thread-safe).
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/ipn/prompt_templates.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

// A position of IpnPrompt::tail (and IpnSequence::tail) that the interaction fills: an <img-d>,
// not a token.
inline constexpr int kSlotPosition = -1;

struct IpnPrompt {
  std::vector<int> prefix;  // P: {bos} for families whose tokenizer adds one (OPT, LLaMA), else {}
  std::vector<int> text;    // X: the prompt tokens between the <img> slot and the <img-d> slot
  // After X, for the released v0 layout: its <img-d> positions (kSlotPosition, engine.h) and the
  // text between and after them. Empty for the own layout: one <img-d> slot ends the prompt.
  std::vector<int> tail;

  // LLM positions of the prompt: P, h_img, X, then the tail or the one <img-d>.
  int n_positions() const {
    return static_cast<int>(prefix.size() + text.size()) + 1 +
           std::max<int>(1, static_cast<int>(tail.size()));
  }
};

// A multiple-choice prompt: each choice is scored as the continuation after the <img-d> slot.
struct ChoicePrompt {
  IpnPrompt prompt;
  // choices[i]: the ids of choice i as they follow the prompt text ("Answer: yes" -> " yes").
  std::vector<std::vector<int>> choices;
};

enum class VqaStyle {
  kShort,  // templates.vqa_short: one word or phrase (VQAv2)
  kLong,   // templates.vqa_long: a sentence or more
};

enum class ChatRole { kHuman, kAssistant };

struct ChatMessage {
  ChatRole role;
  std::string text;
};

// For the RPC edge and data loaders: "human" or "user" -> kHuman, "assistant" or "gpt" (LLaVA's
// conversation files) -> kAssistant, case-insensitive; nullopt for anything else.
std::optional<ChatRole> ChatRoleFromName(absl::string_view name);

// Prompts of a layout whose templates carry the <img> and <img-d> markers themselves (the
// released v0, docs/LINGCLOUD.md "Prompts"; marked_prompt.h). Unset: this project's layout.
struct MarkedPromptOptions {
  int n_slots = 5;  // <img-d> markers each image template holds
  // Whitespace next to a marker is dropped before tokenizing (transformers 4.29's slow
  // tokenizers, as LLaMA's); false keeps it (fast tokenizers, as BLOOM's).
  bool strip_around_markers = true;
  bool add_bos = false;  // BOS before the prompt (the release's --add_bos)
  // false: the templates hold no <img> marker (the text "<img>" is plain text) and the image
  // comes before the whole prompt, as v0.1's Q-Former rows do; the prompt is all X and tail.
  bool image_marker = true;
  // >= 0: each image template holds one <img-q> marker before its <img-d>s, which becomes this
  // token (v0.1's request position, which the IPN reads the first pass at).
  int query_token_id = -1;
  bool add_eos = false;  // EOS after the prompt (v0.1: T5's add_special_tokens)
};

struct PromptLimits {
  // Most LLM positions a prompt may take (n_positions(), image and slot included, plus the
  // longest choice for multiple choice): what the first pass puts in the KV cache.
  int max_prompt_tokens = 2048;
  int max_choices = 32;

  absl::Status Validate() const;
};

class PromptBuilder {
 public:
  // `tokenizer` must outlive the builder. InvalidArgument if the templates or limits are invalid.
  // With `marked`, the templates hold the markers (LingcloudV0PromptTemplates gives the
  // release's) and prompts are laid out as marked_prompt.h says.
  static absl::StatusOr<PromptBuilder> Create(const Tokenizer* tokenizer,
                                              PromptTemplates templates = {},
                                              PromptLimits limits = {},
                                              std::optional<MarkedPromptOptions> marked = {});

  // Errors (all InvalidArgument, naming the request field): an empty or whitespace-only
  // question ("question"), text that is not UTF-8, a prompt over max_prompt_tokens.
  absl::StatusOr<IpnPrompt> AnswerVqa(absl::string_view question,
                                      VqaStyle style = VqaStyle::kShort) const;

  // Choices must be non-empty ("choices", "choices[i]"); at most limits.max_choices.
  absl::StatusOr<ChoicePrompt> MultipleChoice(absl::string_view question,
                                              absl::Span<const std::string> choices) const;

  absl::StatusOr<IpnPrompt> Describe() const;

  // `messages`: human and assistant turns alternating, starting and ending with a human turn;
  // every text non-empty. Errors name "messages" or "messages[i].role" / "messages[i].text".
  absl::StatusOr<IpnPrompt> Chat(absl::Span<const ChatMessage> messages) const;

  // The X text of a chat, rendered but not tokenized (for logs and tests). Same checks as Chat.
  absl::StatusOr<std::string> ChatText(absl::Span<const ChatMessage> messages) const;
  // The completed turns rendered with chat_turn, after checking every message.
  absl::StatusOr<std::string> EarlierTurns(absl::Span<const ChatMessage> messages) const;

  // The ids `text` has when it follows prompt text that ends without a space ("Answer:"), as
  // the tokenization of the whole string would give them. Byte-level BPE: Encode(" " + text)
  // ("Ġyes"). SentencePiece: Encode(text), whose dummy-prefix space is that same space ("▁yes");
  // an explicit space would give "▁▁yes".
  absl::StatusOr<std::vector<int>> EncodeContinuation(absl::string_view text) const;

  const PromptTemplates& templates() const { return templates_; }
  const PromptLimits& limits() const { return limits_; }

 private:
  PromptBuilder(const Tokenizer* tokenizer, PromptTemplates templates, PromptLimits limits,
                bool dummy_prefix, std::optional<MarkedPromptOptions> marked)
      : tokenizer_(tokenizer),
        templates_(std::move(templates)),
        limits_(limits),
        dummy_prefix_(dummy_prefix),
        marked_(marked) {}

  // `tmpl` rendered with {q} (after `before`, the earlier turns of a chat) and laid out: P +
  // Encode(text) for this project's layout, piece by piece for a marked one; with the length
  // check. `field` names the request field to blame.
  absl::StatusOr<IpnPrompt> Build(absl::string_view tmpl, absl::string_view q,
                                  absl::string_view field, const std::string& before = "",
                                  int extra_tokens = 0) const;

  const Tokenizer* tokenizer_;
  PromptTemplates templates_;
  PromptLimits limits_;
  bool dummy_prefix_;  // Encode() adds a leading space of its own (SentencePiece)
  std::optional<MarkedPromptOptions> marked_;
};

}  // namespace lmeye
