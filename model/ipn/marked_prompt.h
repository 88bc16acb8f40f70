// Prompts of the released LMEye layouts (docs/LINGCLOUD.md "Prompts" and ambiguity 5): the
// templates hold the markers. v0: "Image as evidence: <img>\n Question: {q} <img-d> x5\nAnswer:",
// and the LLM sees [P, pieces before <img>] <img> [pieces up to the first <img-d>] then the tail:
// each <img-d> a slot position, the text between and after them as tokens. v0.1 (BLIP-2 T5):
// "Human: <img>\n{q}\n <img-q> <img-d> x5\nAssistant:" where "<img>" is plain text (the image is
// the Q-Former rows before the prompt), <img-q> the request token, and T5's </s> ends the prompt.
//
// Tokenization follows transformers 4.29, which splits a text at its added tokens and tokenizes
// each piece alone (SentencePiece gives each piece its own dummy prefix). Its slow tokenizers
// (LLaMA) also strip the whitespace on both sides of an added token, dropping pieces that become
// empty; its fast ones (BLOOM) keep it, so the spaces between the <img-d>s become tokens.
// MarkedPromptOptions::strip_around_markers chooses.
//
// Markers come only from the template: the template is split at its markers first and each
// piece rendered alone, so a question containing "<img-d>" stays text.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/ipn/adapter_config.h"
#include "model/ipn/prompt.h"
#include "model/ipn/prompt_templates.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

inline constexpr absl::string_view kImageMarker = "<img>";
inline constexpr absl::string_view kSlotMarker = "<img-d>";
inline constexpr absl::string_view kQueryMarker = "<img-q>";

// The release's prompts (LLMEye_test.py) for `n_slots` <img-d>s: vqa_short and multiple_choice
// its qa prompt, describe its description prompt with its default text, vqa_long and chat_last the
// description prompt around the question; chat_turn renders earlier turns as plain text before it.
PromptTemplates LingcloudV0PromptTemplates(int n_slots);

// The v0.1 release's prompt (app_demo.py) around each kind of question, for `n_slots` <img-d>s:
// describe asks the fixture's description question, vqa_long asks for a detailed answer,
// vqa_short / multiple_choice for a short one, chat_last is the plain prompt.
PromptTemplates LingcloudV01PromptTemplates(int n_slots);

// How each released layout marks its prompts, from its adapter options: v0 a <img> and query_len
// <img-d>s (BOS and stripping as the options say); v0.1 no <img> (the image is the Q-Former rows
// before the prompt), its <img-q> token, imgd_len <img-d>s and T5's </s> at the end.
MarkedPromptOptions LingcloudV0MarkedPrompts(const LingcloudV0Config& v0);
MarkedPromptOptions LingcloudV01MarkedPrompts(const LingcloudV01Config& v01);

// INVALID_ARGUMENT naming the template unless each image template (all but chat_turn) holds the
// markers `options` asks for in order (one <img> unless !image_marker, one <img-q> when
// query_token_id >= 0, then exactly n_slots <img-d>s), and chat_turn none.
absl::Status ValidateMarkedTemplates(const PromptTemplates& templates,
                                     const MarkedPromptOptions& options);

// `before` + `tmpl` rendered with {q}, laid out as above: prefix = [BOS if add_bos] + the ids
// before <img>, text = the ids up to the first <img-d> (the <img-q> token among them), tail = the
// rest (kSlotPosition for each <img-d>, then EOS if add_eos). Without an image marker the prefix
// holds only the BOS. `tmpl` must have passed ValidateMarkedTemplates.
absl::StatusOr<IpnPrompt> BuildMarkedPrompt(const Tokenizer& tokenizer, absl::string_view tmpl,
                                            absl::string_view q, absl::string_view before,
                                            const MarkedPromptOptions& options);

}  // namespace lmeye
