// SentencePiece's precompiled character map (NormalizerSpec.precompiled_charsmap): the rules of
// nmt_nfkc, nfkc, nfkc_cf and user rule files, compiled by the trainer into a Darts-clone
// double-array trie over UTF-8 bytes. T5's spiece.model (nmt_nfkc) needs it.
//
// Blob layout (libsentencepiece 0.1.97 normalizer.cc, EncodePrecompiledCharsMap; little-endian):
//   uint32 trie_size | trie_size bytes of double-array units (uint32 each) | replacements,
//   each NUL-terminated; a key's value is the byte offset of its replacement in that last part.
// A lookup is the library's NormalizePrefix step: the longest key that prefixes the input.
//
// The library trusts the blob: a broken one makes it read out of bounds. Create() instead walks
// the whole trie once and refuses (InvalidArgument) a blob whose header is short or whose
// trie_size overruns it, a leaf unit out of range, a replacement offset past the strings or
// without its NUL, a unit reachable twice (a Darts trie is a tree; this also rules out cycles),
// or more prefix matches along one path than the library's fixed result buffer holds
// (kMaxPrefixMatches: more would be undefined behaviour there). Lookups then stay in bounds;
// a transition to a unit index past the array counts as no match.
//
// Threading: immutable after Create(); LongestPrefix may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

class SpmCharsMap {
 public:
  // normalizer.h kMaxTrieResultsSize.
  static constexpr int kMaxPrefixMatches = 32;

  // Parses and validates a precompiled_charsmap blob (see above). An empty blob is not a
  // charsmap: the identity normalizer has none, and callers skip Create() for it.
  static absl::StatusOr<SpmCharsMap> Create(absl::string_view blob);

  // The byte length of the longest key that prefixes `input` and, in *replacement, what it
  // normalizes to (possibly ""; a view into this map). 0 when no key matches.
  size_t LongestPrefix(absl::string_view input, absl::string_view* replacement) const;

  int n_units() const { return static_cast<int>(units_.size()); }

 private:
  SpmCharsMap() = default;
  absl::Status Validate() const;

  std::vector<uint32_t> units_;  // the double array, decoded from little-endian
  std::string replacements_;     // NUL-terminated strings; trie values are offsets into it
};

}  // namespace lmeye
