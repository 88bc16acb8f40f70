#include "model/tokenizer/spm_normalizer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 "▁"
constexpr absl::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// The normalized form of the front of `input` and how many input bytes it consumes
// (SentencePiece's NormalizePrefix).
std::pair<absl::string_view, size_t> NormalizePrefix(absl::string_view input,
                                                     const SpmSymbolMatcher& matcher,
                                                     const SpmCharsMap* charsmap) {
  bool found = false;
  const size_t symbol_length = matcher.PrefixMatch(input, &found);
  if (found) return {input.substr(0, symbol_length), symbol_length};
  if (charsmap != nullptr) {
    absl::string_view replacement;
    if (const size_t length = charsmap->LongestPrefix(input, &replacement); length > 0) {
      return {replacement, length};
    }
  }
  size_t length = 0;
  // SentencePiece's validity test (util.h IsValidDecodeUTF8) is Unicode's: no overlongs, no
  // surrogates, nothing above U+10FFFF, which is what DecodeUtf8At checks.
  if (DecodeUtf8At(input, 0, &length) == kInvalidCodepoint) return {kReplacement, 1};
  return {input.substr(0, length), length};
}

}  // namespace

SpmSymbolMatcher::SpmSymbolMatcher(const std::vector<std::string>& symbols) {
  for (const std::string& s : symbols) {
    if (s.empty()) continue;
    symbols_.insert(s);
    first_bytes_.set(static_cast<uint8_t>(s[0]));
    max_length_ = std::max(max_length_, s.size());
  }
}

size_t SpmSymbolMatcher::PrefixMatch(absl::string_view text, bool* found) const {
  *found = false;
  if (first_bytes_.test(static_cast<uint8_t>(text[0]))) {
    for (size_t n = std::min(max_length_, text.size()); n > 0; --n) {
      if (symbols_.contains(text.substr(0, n))) {
        *found = true;
        return n;
      }
    }
  }
  // The lead byte alone decides, valid or not (SentencePiece's OneCharLen).
  static constexpr size_t kLength[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return std::min(text.size(), kLength[static_cast<uint8_t>(text[0]) >> 4]);
}

std::string SpmNormalize(absl::string_view input, const SpmNormalizerOptions& options,
                         const SpmSymbolMatcher& matcher, const SpmCharsMap* charsmap) {
  std::string out;
  if (options.remove_extra_whitespaces) {
    while (!input.empty()) {
      const auto [normalized, consumed] = NormalizePrefix(input, matcher, charsmap);
      if (normalized != " ") break;
      input.remove_prefix(consumed);
    }
  }
  if (input.empty()) return out;

  out.reserve(input.size() * 3);
  const absl::string_view space = options.escape_whitespaces ? kSpaceSymbol : " ";
  if (!options.treat_whitespace_as_suffix && options.add_dummy_prefix)
    out.append(space.data(), space.size());

  bool is_prev_space = options.remove_extra_whitespaces;
  while (!input.empty()) {
    auto [piece, consumed] = NormalizePrefix(input, matcher, charsmap);
    // Spaces right after a space are dropped when collapsing runs.
    while (is_prev_space && absl::ConsumePrefix(&piece, " ")) {
    }
    if (!piece.empty()) {
      for (const char c : piece) {
        if (c == ' ' && options.escape_whitespaces) {
          out.append(kSpaceSymbol.data(), kSpaceSymbol.size());
        } else {
          out.push_back(c);
        }
      }
      is_prev_space = absl::EndsWith(piece, " ");
    }
    input.remove_prefix(consumed);
    if (!options.remove_extra_whitespaces) is_prev_space = false;
  }

  if (options.remove_extra_whitespaces) {
    // Drops trailing white space, as the reference does: by the escaped symbol, so a literal
    // "▁" typed at the end goes too.
    while (absl::EndsWith(out, space)) out.resize(out.size() - space.size());
  }
  if (options.treat_whitespace_as_suffix && options.add_dummy_prefix)
    out.append(space.data(), space.size());
  return out;
}

}  // namespace lmeye
