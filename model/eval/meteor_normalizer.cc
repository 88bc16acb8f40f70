#include "model/eval/meteor_normalizer.h"

#include <functional>
#include <sstream>
#include <vector>

#include "model/eval/text_util.h"

namespace lmeye::eval {
namespace {

using U32 = std::u32string;

// Normalizer.alpha: "A-Za-zŠŽšžŸÀ-ÖØ-öø-ž" + Cyrillic ranges.
bool IsMeteorAlpha(char32_t c) {
  return IsAsciiLetter(c) || c == 0x160 || c == 0x17D || c == 0x161 || c == 0x17E || c == 0x178 ||
         (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x17E) ||
         (c >= 0x400 && c <= 0x4FF) || (c >= 0x500 && c <= 0x527) || (c >= 0xA640 && c <= 0xA66E) ||
         (c >= 0xA67E && c <= 0xA697) || (c >= 0x1D00 && c <= 0x1D7F);
}
bool IsMeteorAlnum(char32_t c) { return IsAsciiDigit(c) || IsMeteorAlpha(c); }
bool IsJavaRegexSpace(char32_t c) {  // \s without UNICODE_CHARACTER_CLASS
  return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
}
bool IsWhiteToCollapse(char32_t c) {  // r_white's class
  return c == ' ' || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000 ||
         c == 0xA0;
}
bool IsStringTokenizerDelim(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

U32 ReplaceLiteral(const U32& text, const U32& from, const U32& to) {
  U32 out;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(from, start);
    if (pos == U32::npos) break;
    out.append(text, start, pos - start);
    out += to;
    start = pos + from.size();
  }
  out.append(text, start, U32::npos);
  return out;
}

// Java Matcher.replaceAll for a pattern "(A)m(B)" of three single characters: leftmost,
// non-overlapping matches, each replaced by make(a, b).
U32 ReplaceTriple(const U32& text, const std::function<bool(char32_t)>& first, char32_t middle,
                  const std::function<bool(char32_t)>& last,
                  const std::function<U32(char32_t, char32_t)>& make) {
  U32 out;
  size_t i = 0;
  while (i < text.size()) {
    if (i + 2 < text.size() && text[i + 1] == middle && first(text[i]) && last(text[i + 2])) {
      out += make(text[i], text[i + 2]);
      i += 3;
    } else {
      out.push_back(text[i]);
      ++i;
    }
  }
  return out;
}

U32 Spaced(char32_t a, const U32& mid, char32_t b) { return U32(1, a) + mid + U32(1, b); }

bool StartsWithAsciiLower(const std::string& word) {
  return !word.empty() && word[0] >= 'a' && word[0] <= 'z';
}
bool StartsWithAsciiDigit(const std::string& word) {
  return !word.empty() && word[0] >= '0' && word[0] <= '9';
}

}  // namespace

NonbreakingPrefixes ParseNonbreakingPrefixes(const std::string& contents) {
  NonbreakingPrefixes prefixes;
  std::istringstream in(contents);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string prefix;
    if (!(fields >> prefix) || prefix[0] == '#') continue;
    std::string type;
    prefixes[prefix] = (fields >> type) && type == "#NUMERIC_ONLY#";
  }
  return prefixes;
}

std::string MeteorNormalize(const std::string& line, const NonbreakingPrefixes& prefixes) {
  U32 w = U" " + DecodeUtf8(line) + U" ";

  // Separate all non-alphanumeric characters that aren't special cases.
  {
    U32 out;
    for (char32_t c : w) {
      const bool keep = IsMeteorAlnum(c) || IsJavaRegexSpace(c) || c == '.' || c == '\'' ||
                        c == '`' || c == ',' || c == '-' || c == 0x2018 || c == 0x2019;
      if (keep) {
        out.push_back(c);
      } else {
        out += U" ";
        out.push_back(c);
        out += U" ";
      }
    }
    w = std::move(out);
  }

  // Escape runs of dots: \.([\.]+) -> " DOTMULTI$1".
  {
    U32 out;
    size_t i = 0;
    while (i < w.size()) {
      if (w[i] == '.' && i + 1 < w.size() && w[i + 1] == '.') {
        size_t j = i + 1;
        while (j < w.size() && w[j] == '.') ++j;
        out += U" DOTMULTI";
        out.append(w, i + 1, j - i - 1);
        i = j;
      } else {
        out.push_back(w[i]);
        ++i;
      }
    }
    w = std::move(out);
  }
  while (w.find(U"DOTMULTI.") != U32::npos) {
    // DOTMULTI\.([^\.]) -> "DOTDOTMULTI $1"
    U32 out;
    const U32 key = U"DOTMULTI.";
    size_t i = 0;
    while (i < w.size()) {
      if (w.compare(i, key.size(), key) == 0 && i + key.size() < w.size() &&
          w[i + key.size()] != '.') {
        out += U"DOTDOTMULTI ";
        out.push_back(w[i + key.size()]);
        i += key.size() + 1;
      } else {
        out.push_back(w[i]);
        ++i;
      }
    }
    w = ReplaceLiteral(out, U"DOTMULTI.", U"DOTDOTMULTI");
  }

  // Separate commas except within numbers.
  auto digit = [](char32_t c) { return IsAsciiDigit(c); };
  auto non_digit = [](char32_t c) { return !IsAsciiDigit(c); };
  auto comma = [](char32_t a, char32_t b) { return Spaced(a, U" , ", b); };
  w = ReplaceTriple(w, non_digit, ',', non_digit, comma);
  w = ReplaceTriple(w, digit, ',', non_digit, comma);
  w = ReplaceTriple(w, non_digit, ',', digit, comma);

  // Normalise quotes: [`‘’] -> ', then ([“”]|'') -> " \" ".
  for (char32_t& c : w) {
    if (c == '`' || c == 0x2018 || c == 0x2019) c = '\'';
  }
  {
    U32 out;
    size_t i = 0;
    while (i < w.size()) {
      if (w[i] == 0x201C || w[i] == 0x201D) {
        out += U" \" ";
        ++i;
      } else if (w[i] == '\'' && i + 1 < w.size() && w[i + 1] == '\'') {
        out += U" \" ";
        i += 2;
      } else {
        out.push_back(w[i]);
        ++i;
      }
    }
    w = std::move(out);
  }

  // Normalise dashes, then split hyphens between alphanumerics (or dot-alphanumeric).
  w = ReplaceLiteral(w, U"\u2013", U"-");
  w = ReplaceLiteral(w, U"--", U"-");
  w = ReplaceTriple(
      w, [](char32_t c) { return IsMeteorAlnum(c) || c == '.'; }, '-', IsMeteorAlnum,
      [](char32_t a, char32_t b) { return Spaced(a, U" ", b); });

  // English contractions split to the right.
  auto alpha = [](char32_t c) { return IsMeteorAlpha(c); };
  auto non_alpha = [](char32_t c) { return !IsMeteorAlpha(c); };
  auto split_both = [](char32_t a, char32_t b) { return Spaced(a, U" ' ", b); };
  auto split_right = [](char32_t a, char32_t b) { return Spaced(a, U" '", b); };
  w = ReplaceTriple(w, non_alpha, '\'', non_alpha, split_both);
  w = ReplaceTriple(
      w, [](char32_t c) { return !IsMeteorAlpha(c) && !IsAsciiDigit(c); }, '\'', alpha, split_both);
  w = ReplaceTriple(w, alpha, '\'', non_alpha, split_both);
  w = ReplaceTriple(w, alpha, '\'', alpha, split_right);
  w = ReplaceTriple(
      w, digit, '\'', [](char32_t c) { return c == 's'; }, split_right);

  // Split words (StringTokenizer), then break word-final dots unless non-breaking.
  std::vector<std::string> words;
  {
    U32 current;
    for (char32_t c : w) {
      if (IsStringTokenizerDelim(c)) {
        if (!current.empty()) words.push_back(EncodeUtf8(current));
        current.clear();
      } else {
        current.push_back(c);
      }
    }
    if (!current.empty()) words.push_back(EncodeUtf8(current));
  }
  U32 rebuilt;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    const U32 word32 = DecodeUtf8(word);
    if (word32.size() > 1 && word32.back() == '.') {
      const std::string pre = word.substr(0, word.size() - 1);
      const U32 pre32 = DecodeUtf8(pre);
      const auto type = prefixes.find(pre);
      bool has_alpha = false;
      for (char32_t c : pre32) has_alpha = has_alpha || IsMeteorAlpha(c);
      const bool has_next = i + 1 < words.size();
      if (pre.find('.') != std::string::npos && has_alpha) {
        // Mixed acronym (U.S.): drop the dots.
        rebuilt += ReplaceLiteral(word32, U".", U"");
      } else if ((type != prefixes.end() && !type->second) ||
                 (has_next && StartsWithAsciiLower(words[i + 1]))) {
        rebuilt += word32;
      } else if (type != prefixes.end() && type->second && has_next &&
                 StartsWithAsciiDigit(words[i + 1])) {
        rebuilt += word32;
      } else {
        rebuilt += pre32;
        rebuilt += U" .";
      }
    } else {
      rebuilt += word32;
    }
    rebuilt += U" ";
  }
  w = std::move(rebuilt);

  // Unescape runs of dots.
  while (w.find(U"DOTDOTMULTI") != U32::npos) w = ReplaceLiteral(w, U"DOTDOTMULTI", U"DOTMULTI.");
  w = ReplaceLiteral(w, U"DOTMULTI", U".");

  // Collapse whitespace runs and trim (Java String.trim drops code points <= U+0020).
  U32 out;
  for (size_t i = 0; i < w.size(); ++i) {
    if (IsWhiteToCollapse(w[i])) {
      out.push_back(' ');
      while (i + 1 < w.size() && IsWhiteToCollapse(w[i + 1])) ++i;
    } else {
      out.push_back(w[i]);
    }
  }
  size_t begin = 0;
  size_t end = out.size();
  while (begin < end && out[begin] <= 0x20) ++begin;
  while (end > begin && out[end - 1] <= 0x20) --end;
  return EncodeUtf8(out.substr(begin, end - begin));
}

}  // namespace lmeye::eval
