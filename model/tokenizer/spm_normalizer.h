// SentencePiece's text normalization, and the user-defined-symbol matcher that normalization
// and BPE segmentation share.
//
// Behaviour is that of libsentencepiece 0.1.97 (normalizer.cc, Normalizer::Normalize): the
// identity rule set (LLaMA's tokenizer.model) or a precompiled character map (spm_charsmap.h;
// T5's nmt_nfkc).
#pragma once

#include <bitset>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "model/tokenizer/spm_charsmap.h"

namespace lmeye {

// Longest-prefix matching of the model's USER_DEFINED pieces. A match is one symbol: it passes
// normalization untouched and is never merged by BPE.
class SpmSymbolMatcher {
 public:
  SpmSymbolMatcher() = default;
  explicit SpmSymbolMatcher(const std::vector<std::string>& symbols);

  // Length of the longest symbol that prefixes `text`, with *found = true; otherwise the length
  // of the first UTF-8 character by its lead byte (SentencePiece's OneCharLen, capped at the
  // remaining size), with *found = false. `text` must not be empty.
  size_t PrefixMatch(absl::string_view text, bool* found) const;

 private:
  absl::flat_hash_set<std::string> symbols_;
  std::bitset<256> first_bytes_;  // a cheap filter: most characters start no symbol
  size_t max_length_ = 0;
};

struct SpmNormalizerOptions {
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
  bool treat_whitespace_as_suffix = false;  // TrainerSpec: the dummy space goes at the end
};

// Normalizes `input` as SentencePiece does. Character by character: a user-defined symbol is
// kept as it is; else the longest `charsmap` key is replaced by its rule (when there is a
// charsmap: nmt_nfkc turns tabs and newlines into ' ', "ﬁ" into "fi", drops control characters);
// else a valid UTF-8 character passes and an invalid byte becomes U+FFFD. Then, on what the rules
// produced: with remove_extra_whitespaces, runs of ' ' collapse to one and leading/trailing ones
// are dropped; with escape_whitespaces, ' ' becomes U+2581 "▁"; with add_dummy_prefix, one "▁"
// goes before non-empty text (after it when treat_whitespace_as_suffix). Only ' ' is white space
// here: without a charsmap, tabs and newlines stay as they are. The result is valid UTF-8
// whenever the user-defined symbols and the charsmap's replacements are.
std::string SpmNormalize(absl::string_view input, const SpmNormalizerOptions& options,
                         const SpmSymbolMatcher& matcher, const SpmCharsMap* charsmap = nullptr);

}  // namespace lmeye
