// Finding added tokens ("<img-d>", "</s>", "<extra_id_0>") in text, as Hugging Face's
// tokenizer(text) does before the model sees the rest: the leftmost match first, the longest
// token at that position (transformers' Trie.split, tokenizers' AddedVocabulary), and the text
// between matches left for the model to encode.
//
// Used only by Tokenizer::EncodeWithAddedTokens, the explicit way to turn a prompt template into
// ids; plain Encode() never produces an added token from text.
//
// Threading: immutable after the Add() calls; Split may be called from any thread.
#pragma once

#include <bitset>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// A piece of the split: an added token (token_id >= 0) or text between tokens (token_id -1).
struct TextSegment {
  absl::string_view text;
  int token_id = -1;
};

class AddedTokenSplitter {
 public:
  // Set-up: `content` (non-empty) is recognized in text as `id`. Adding content again replaces
  // its id.
  void Add(absl::string_view content, int id);

  // The segments of `text` in order; views into it. With `strip_around_tokens`, white space next
  // to a token is dropped from the text beside it (Python's str.strip set: ASCII white space,
  // U+001C..U+001F, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
  // U+3000), as transformers 4.29's slow tokenizers do; text segments left empty are omitted
  // either way.
  std::vector<TextSegment> Split(absl::string_view text, bool strip_around_tokens) const;

  bool empty() const { return tokens_.empty(); }

 private:
  absl::flat_hash_map<std::string, int> tokens_;
  std::bitset<256> first_bytes_;  // a cheap filter: most bytes start no token
  size_t max_length_ = 0;
};

}  // namespace lmeye
