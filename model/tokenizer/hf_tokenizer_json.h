// Hugging Face `tokenizer.json` with a byte-level BPE model (GPT-2, OPT, BLOOM, RoBERTa style).
// (A Unigram tokenizer.json, T5's, is hf_unigram_json.h.)
//
// Supported: model.type "BPE" with vocab and merges (strings "a b" or pairs ["a", "b"]),
// ignore_merges; added_tokens; normalizer null; pre_tokenizer ByteLevel (use_regex with the
// GPT-2 regex, add_prefix_space) or a Sequence of Split (the GPT-2 or BLOOM regex, behavior
// Isolated) and ByteLevel; decoder ByteLevel or null; post_processor TemplateProcessing or
// RobertaProcessing (only its leading special token is used, as the BOS). Anything else is an
// InvalidArgument error naming the file and the field: better than tokenizing differently from
// the reference.
//
// Added tokens are known by id (decode, IdToPiece, PieceToId) but never matched in text, special
// or not: see tokenizer.h. Byte-level vocabularies of the supported families add only special
// tokens, so plain-text ids equal Hugging Face's with add_special_tokens=False.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "model/tokenizer/bpe_tokenizer.h"

namespace lmeye {

struct HfTokenizerJson {
  ByteLevelBpeConfig bpe;
  // The special token the post-processor puts before a single sequence ("<s>"), if any.
  std::optional<std::string> prepend_token;
};

absl::StatusOr<HfTokenizerJson> ReadHfTokenizerJson(const std::string& path);
// The same on an already parsed file (`path` names it in errors).
absl::StatusOr<HfTokenizerJson> ParseHfTokenizerJson(const nlohmann::json& root,
                                                     const std::string& path);

}  // namespace lmeye
