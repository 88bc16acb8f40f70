// Hugging Face `tokenizer.json` with a Unigram model, as transformers' convert_slow_tokenizer
// writes it for T5 / Flan-T5 (T5TokenizerFast), read into our SentencePiece (spm_model.h).
//
// The file is a SentencePiece model spelled differently, and is converted back to one:
//   model {"type": "Unigram", "unk_id", "vocab": [[piece, score], ...]}  -> the pieces, in id
//     order; unk_id is the UNKNOWN piece (decoded " ⁇ " as from spiece.model); the other special
//     added tokens inside the vocabulary (<pad>, </s>, <extra_id_N>) are CONTROL pieces, so that
//     text never produces them; the rest NORMAL.
//   normalizer Precompiled {"precompiled_charsmap": base64}, alone or in a Sequence followed by
//     Replace(" {2,}" -> " "); or null (identity).
//   pre_tokenizer Sequence [WhitespaceSplit, Metaspace("▁", add_prefix_space / prepend_scheme
//     "always")] -> add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces.
//   post_processor TemplateProcessing: a special token before $A is the BOS, one after it the
//     EOS, each added when encoding for a prompt.
//   added_tokens beyond the vocabulary (LMEye's <img-d>, <img-q>) -> special tokens at their ids.
// Anything else is an InvalidArgument naming the file and the field.
//
// What is assumed, not checked against the tokenizers library (not available here): that
// splitting at white space and encoding each "▁word" on its own (tokenizers) gives what
// SentencePiece's Viterbi over the whole "▁word▁word" text gives. It does when no piece spans a
// "▁" inside it, which holds for models trained with split_by_whitespace (T5's); and that
// tokenizers' f64 scores tie where SentencePiece's f32 do (the converter copies f32 values).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "model/tokenizer/spm_model_proto.h"

namespace lmeye {

struct HfUnigramJson {
  SpmModelProto model;
  // Added tokens with ids past the vocabulary, in id order: (content, id).
  std::vector<std::pair<std::string, int>> added_beyond_vocab;
  // Special added tokens inside the vocabulary (content, id), to register as special.
  std::vector<std::pair<std::string, int>> special_in_vocab;
  std::string prepend_token;  // the post-processor's token before $A; "" if none
  std::string append_token;   // and after it
};

// Whether `root` (a parsed tokenizer.json) has model.type "Unigram".
bool IsHfUnigramJson(const nlohmann::json& root);

// Converts a parsed tokenizer.json; `path` names it in errors.
absl::StatusOr<HfUnigramJson> ParseHfUnigramJson(const nlohmann::json& root,
                                                 const std::string& path);

}  // namespace lmeye
