#include "model/tokenizer/pretokenizer.h"

#include <cstdint>

#include "model/tokenizer/unicode_tables.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {

const char kGpt2SplitRegex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

const char kBloomSplitRegex[] = " ?[^(\\s|[.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c])]+";

struct Char {
  uint32_t offset;  // byte offset in the text
  uint32_t cp;      // kInvalidCodepoint for a byte that is not valid UTF-8
  CharClass cls;
};

// Decodes once so the matchers can look ahead by characters; the last entry is a sentinel whose
// offset is the text's length.
void DecodeChars(absl::string_view text, std::vector<Char>* chars) {
  chars->clear();
  size_t pos = 0;
  while (pos < text.size()) {
    const auto c = static_cast<uint8_t>(text[pos]);
    size_t len = 1;
    uint32_t cp = c;
    if (c >= 0x80) cp = DecodeUtf8At(text, pos, &len);
    const CharClass cls = cp == kInvalidCodepoint ? CharClass::kOther : ClassifyCodepoint(cp);
    chars->push_back({static_cast<uint32_t>(pos), cp, cls});
    pos += len;
  }
  chars->push_back({static_cast<uint32_t>(text.size()), 0, CharClass::kOther});
}

// Length (in characters) of a contraction 's 't 're 've 'm 'll 'd starting at chars[i], or 0.
size_t ContractionLength(const std::vector<Char>& chars, size_t i, size_t n) {
  if (chars[i].cp != '\'' || i + 1 >= n) return 0;
  const uint32_t a = chars[i + 1].cp;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= n) return 0;
  const uint32_t b = chars[i + 2].cp;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

void SplitGpt2(absl::string_view text, std::vector<absl::string_view>* words) {
  thread_local std::vector<Char> chars;
  DecodeChars(text, &chars);
  const size_t n = chars.size() - 1;
  auto emit = [&](size_t begin, size_t end) {
    words->push_back(text.substr(chars[begin].offset, chars[end].offset - chars[begin].offset));
  };
  size_t i = 0;
  while (i < n) {
    if (size_t len = ContractionLength(chars, i, n); len > 0) {
      emit(i, i + len);
      i += len;
      continue;
    }
    // " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+": an optional U+0020 and then a run of one
    // class. Only a literal space may prefix a word, not other white space.
    size_t j = i;
    if (chars[i].cp == ' ' && i + 1 < n && chars[i + 1].cls != CharClass::kWhiteSpace) j = i + 1;
    const CharClass cls = chars[j].cls;
    if (cls != CharClass::kWhiteSpace) {
      size_t k = j + 1;
      while (k < n && chars[k].cls == cls) ++k;
      emit(i, k);
      i = k;
      continue;
    }
    // "\s+(?!\S)": a white-space run, backtracking one character when a word follows so that
    // the word keeps its leading space; "\s+" takes a single white-space character otherwise.
    size_t k = i + 1;
    while (k < n && chars[k].cls == CharClass::kWhiteSpace) ++k;
    if (k < n && k - 1 > i) --k;
    emit(i, k);
    i = k;
  }
}

void SplitBloom(absl::string_view text, std::vector<absl::string_view>* words) {
  thread_local std::vector<Char> chars;
  DecodeChars(text, &chars);
  const size_t n = chars.size() - 1;
  // The negated class [^(\s|[.,!?…。，、।۔،])]: Oniguruma reads the inner [...] as a nested
  // class, so the excluded set is white space, the punctuation listed, and ( | ).
  auto in_word = [&](size_t i) {
    if (chars[i].cls == CharClass::kWhiteSpace) return false;
    switch (chars[i].cp) {
      case '(':
      case ')':
      case '|':
      case '.':
      case ',':
      case '!':
      case '?':
      case 0x2026:
      case 0x3002:
      case 0xFF0C:
      case 0x3001:
      case 0x0964:
      case 0x06D4:
      case 0x060C:
        return false;
      default:
        return true;
    }
  };
  auto emit = [&](size_t begin, size_t end) {
    if (end > begin) {
      words->push_back(text.substr(chars[begin].offset, chars[end].offset - chars[begin].offset));
    }
  };
  // Isolated: every match is a word and so is every gap between matches.
  size_t gap_start = 0;
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    if (chars[i].cp == ' ' && i + 1 < n && in_word(i + 1)) j = i + 1;
    if (!in_word(j)) {
      ++i;
      continue;
    }
    size_t k = j + 1;
    while (k < n && in_word(k)) ++k;
    emit(gap_start, i);
    emit(i, k);
    i = gap_start = k;
  }
  emit(gap_start, n);
}

std::optional<SplitRule> SplitRuleForRegex(absl::string_view regex) {
  if (regex == kGpt2SplitRegex) return SplitRule::kGpt2;
  if (regex == kBloomSplitRegex) return SplitRule::kBloom;
  return std::nullopt;
}

void PreTokenizer::Split(absl::string_view text, std::string* storage,
                         std::vector<absl::string_view>* words) const {
  words->clear();
  if (add_prefix_space_ && !text.empty() && text[0] != ' ') {
    storage->assign(" ");
    storage->append(text.data(), text.size());
    text = *storage;
  }
  if (text.empty()) return;
  words->push_back(text);
  std::vector<absl::string_view> next;
  for (SplitRule rule : rules_) {
    next.clear();
    for (absl::string_view word : *words) {
      if (rule == SplitRule::kGpt2) {
        SplitGpt2(word, &next);
      } else {
        SplitBloom(word, &next);
      }
    }
    words->swap(next);
  }
}

}  // namespace lmeye
