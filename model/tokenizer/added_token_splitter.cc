#include "model/tokenizer/added_token_splitter.h"

#include <algorithm>

#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

// Python's str.isspace(), which str.strip() uses.
bool IsPythonSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

absl::string_view StripLeft(absl::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t length = 0;
    if (!IsPythonSpace(DecodeUtf8At(s, pos, &length))) break;
    pos += length;
  }
  return s.substr(pos);
}

absl::string_view StripRight(absl::string_view s) {
  size_t end = 0;  // just past the last character that is not white space
  for (size_t pos = 0; pos < s.size();) {
    size_t length = 0;
    if (!IsPythonSpace(DecodeUtf8At(s, pos, &length))) end = pos + length;
    pos += length;
  }
  return s.substr(0, end);
}

}  // namespace

void AddedTokenSplitter::Add(absl::string_view content, int id) {
  if (content.empty()) return;
  tokens_[content] = id;
  first_bytes_.set(static_cast<unsigned char>(content[0]));
  max_length_ = std::max(max_length_, content.size());
}

std::vector<TextSegment> AddedTokenSplitter::Split(absl::string_view text,
                                                   bool strip_around_tokens) const {
  std::vector<TextSegment> out;
  bool after_token = false;
  // A text segment; `before_token`: a token follows it (`after_token`: one precedes it).
  auto emit_text = [&](absl::string_view segment, bool before_token) {
    if (strip_around_tokens) {
      if (after_token) segment = StripLeft(segment);
      if (before_token) segment = StripRight(segment);
    }
    if (!segment.empty()) out.push_back({segment, -1});
  };
  size_t begin = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t match = 0;
    int id = -1;
    if (first_bytes_.test(static_cast<unsigned char>(text[pos]))) {
      for (size_t n = std::min(max_length_, text.size() - pos); n > 0; --n) {
        if (auto it = tokens_.find(text.substr(pos, n)); it != tokens_.end()) {
          match = n;
          id = it->second;
          break;
        }
      }
    }
    if (match == 0) {
      ++pos;
      continue;
    }
    emit_text(text.substr(begin, pos - begin), /*before_token=*/true);
    out.push_back({text.substr(pos, match), id});
    after_token = true;
    pos += match;
    begin = pos;
  }
  emit_text(text.substr(begin), /*before_token=*/false);
  return out;
}

}  // namespace lmeye
