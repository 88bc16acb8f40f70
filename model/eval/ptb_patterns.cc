#include "model/eval/ptb_patterns.h"

#include "model/eval/ptb_abbreviations.h"

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <vector>

#include "model/eval/text_util.h"

namespace lmeye::eval::ptb {
namespace {

bool IsAsciiAlnum(char32_t c) { return IsAsciiLetter(c) || IsAsciiDigit(c); }
bool IsLetterOrDigit(char32_t c) { return IsLetter(c) || IsDigit(c); }
char32_t At(const U32& s, size_t i) { return i < s.size() ? s[i] : 0; }

// One element of a fixed sequence pattern: a character class repeated min..max times.
struct Atom {
  std::function<bool(char32_t)> cls;
  int min;
  int max;
};

// Longest match of a sequence of atoms at pos (explores every repetition count, as a DFA would).
size_t MatchSequence(const U32& s, size_t pos, const std::vector<Atom>& atoms, size_t k = 0) {
  if (k == atoms.size()) return pos + 1;  // +1 so that an empty match differs from no match
  const Atom& a = atoms[k];
  size_t run = 0;
  while (static_cast<int>(run) < a.max && pos + run < s.size() && a.cls(s[pos + run])) ++run;
  size_t best = 0;
  for (int n = static_cast<int>(run); n >= a.min; --n) {
    best = std::max(best, MatchSequence(s, pos + n, atoms, k + 1));
  }
  return best;
}
size_t SequenceLength(const U32& s, size_t pos, const std::vector<Atom>& atoms) {
  const size_t end = MatchSequence(s, pos, atoms);
  return end == 0 ? 0 : end - 1 - pos;
}

Atom Char(char32_t c, int min = 1, int max = 1) {
  return {[c](char32_t x) { return x == c; }, min, max};
}
Atom Digits(int min, int max) { return {IsAsciiDigit, min, max}; }
Atom OneOf(std::u32string chars, int min = 1, int max = 1) {
  return {[chars](char32_t x) { return chars.find(x) != std::u32string::npos; }, min, max};
}

constexpr std::string_view kFilenameExt[] = {
    "bat", "bmp", "c",    "class", "cgi",  "cpp",  "dll", "doc", "docx", "exe", "gif", "gz",
    "h",   "htm", "html", "jar",   "java", "jpeg", "jpg", "mov", "mp3",  "pdf", "php", "pl",
    "png", "ppt", "ps",   "py",    "sql",  "tar",  "txt", "wav", "x",    "xml", "zip"};

// Longest k such that s[pos..pos+k) is all `body` with at least two UTF-16 units and its last
// unit in `last`. The lexer runs on Java chars: an astral character is two units (a surrogate
// pair, whose low half passes the negated classes used here).
template <typename Body, typename Last>
size_t BodyThenLast(const U32& s, size_t pos, Body body, Last last) {
  const size_t run = RunLength(s, pos, body);
  for (size_t k = run; k >= 1; --k) {
    const char32_t end = s[pos + k - 1];
    const bool two_units = k >= 2 || end >= 0x10000;
    if (two_units && (end >= 0x10000 || last(end))) return k;
  }
  return 0;
}

bool UrlBody(char32_t c) {  // [^ \t\n\f\r\"<>|(){}]
  return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' || c == '<' ||
           c == '>' || c == '|' || c == '(' || c == ')' || c == '{' || c == '}');
}
bool UrlLast(char32_t c) {  // [^ \t\n\f\r\"<>|.!?(){},-]
  return UrlBody(c) && !(c == '.' || c == '!' || c == '?' || c == ',' || c == '-');
}

}  // namespace

bool IsSpace(char32_t c) {
  return c == ' ' || c == '\t' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x3000;
}
bool IsNewline(char32_t c) {
  return c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x0B || c == 0x0C ||
         c == 0x85;
}
bool IsSpaceNl(char32_t c) { return IsSpace(c) || IsNewline(c); }
bool IsIgnorable(char32_t c) {
  return c == 0 || IsSpaceNl(c) || c == 0x200B || c == 0x200E || c == 0x200F || c == 0xFEFF ||
         c == 0x7F;
}
bool IsLetter(char32_t c) {
  return IsUnicodeLetter(c) || c == 0xAD || (c >= 0x237 && c <= 0x24F) ||
         (c >= 0x300 && c <= 0x36F);
}
bool IsDigit(char32_t c) { return IsAsciiDigit(c) || (c >= 0x7C0 && c <= 0x7C9); }
bool IsApos(char32_t c) { return c == '\'' || c == 0x92 || c == 0x2019; }
bool IsAposEtc(char32_t c) {
  return IsApos(c) || c == '`' || c == 0x91 || c == 0x2018 || c == 0x201B;
}
bool IsHyphen(char32_t c) {
  return c == '-' || c == '_' || c == 0x58A || c == 0x2010 || c == 0x2011;
}
bool IsQuoteChar(char32_t c) {
  return c == '`' || c == 0x2018 || c == 0x2019 || c == 0x201A || c == 0x201B || c == 0x201C ||
         c == 0x201D || (c >= 0x91 && c <= 0x94) || c == 0x201E || c == 0x201F || c == 0x2039 ||
         c == 0x203A || c == 0xAB || c == 0xBB;
}
bool IsMiscSymbol(char32_t c) {
  if (c == '+' || c == '%' || c == '&' || c == '~' || c == '^' || c == '|' || c == '\\')
    return true;
  if (c == 0xA6 || c == 0xA7 || c == 0xA8 || c == 0xA9 || c == 0xAC || c == 0xAE || c == 0xAF) {
    return true;
  }
  if ((c >= 0xB0 && c <= 0xBA) || c == 0xD7 || c == 0xF7 || c == 0x387) return true;
  if (c == 0x5BE || c == 0x5C0 || c == 0x5C3 || c == 0x5C6 || c == 0x5F3 || c == 0x5F4) return true;
  if ((c >= 0x600 && c <= 0x603) || (c >= 0x606 && c <= 0x60A) || c == 0x60C || c == 0x614 ||
      c == 0x61B || c == 0x61E || c == 0x66A || c == 0x66D || (c >= 0x703 && c <= 0x70D) ||
      (c >= 0x7F6 && c <= 0x7F8) || c == 0x964 || c == 0x965 || c == 0xE4F || c == 0x1FBD) {
    return true;
  }
  if (c == 0x2016 || c == 0x2017 || (c >= 0x2020 && c <= 0x2023) || (c >= 0x2030 && c <= 0x2038)) {
    return true;
  }
  if (c == 0x203B || (c >= 0x203E && c <= 0x2042) || c == 0x2044) return true;
  if ((c >= 0x207A && c <= 0x207F) || (c >= 0x208A && c <= 0x208E)) return true;
  if ((c >= 0x2100 && c <= 0x214F) || (c >= 0x2190 && c <= 0x21FF)) return true;
  if (c >= 0x2200 && c <= 0x2BFF) return true;
  if (c == 0x3012 || c == 0x30FB) return true;
  return (c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
         (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65);
}
char32_t Lower(char32_t c) { return ToLowerCodePoint(c); }

size_t MatchLiteral(const U32& s, size_t pos, std::string_view lit) {
  size_t j = pos;
  for (size_t k = 0; k < lit.size(); ++k) {
    if (j >= s.size()) return 0;
    if (lit[k] == '=' && k + 1 < lit.size()) {
      ++k;
      if (s[j] != static_cast<char32_t>(lit[k])) return 0;
    } else if (Lower(s[j]) != Lower(static_cast<char32_t>(lit[k]))) {
      return 0;
    }
    ++j;
  }
  return j - pos;
}

size_t MatchAnyLiteral(const U32& s, size_t pos, std::initializer_list<std::string_view> lits) {
  size_t best = 0;
  for (std::string_view lit : lits) best = std::max(best, MatchLiteral(s, pos, lit));
  return best;
}

// SGML = \<([!\?][A-Za-z\-][^>\r\n]*|[A-Za-z][A-Za-z0-9_:\.\-]*([ ]+([A-Za-z][A-Za-z0-9_:\.\-]*|
//        [A-Za-z][A-Za-z0-9_:\.\-]*[ ]*=[ ]*('[^']*'|\"[^\"]*\")))*[
//        ]*\/?|\/[A-Za-z][A-Za-z0-9_:\.\-]*)[ ]*\>
size_t MatchSgml(const U32& s, size_t pos) {
  if (At(s, pos) != '<') return 0;
  auto name_char = [](char32_t c) {
    return IsAsciiAlnum(c) || c == '_' || c == ':' || c == '.' || c == '-';
  };
  auto close = [&](size_t j) -> size_t {  // [ ]*\> from j
    j += RunLength(s, j, [](char32_t c) { return c == ' '; });
    return At(s, j) == '>' ? j + 1 - pos : 0;
  };
  const size_t i = pos + 1;
  if (At(s, i) == '!' || At(s, i) == '?') {
    if (!(IsAsciiLetter(At(s, i + 1)) || At(s, i + 1) == '-')) return 0;
    // [^>\r\n]* then [ ]*\> : the first '>' ends it.
    size_t j = i + 2;
    while (j < s.size() && s[j] != '>' && s[j] != '\r' && s[j] != '\n') ++j;
    return At(s, j) == '>' ? j + 1 - pos : 0;
  }
  if (At(s, i) == '/') {
    if (!IsAsciiLetter(At(s, i + 1))) return 0;
    return close(i + 2 + RunLength(s, i + 2, name_char));
  }
  if (!IsAsciiLetter(At(s, i))) return 0;
  // Element name, then attributes; every prefix that can be closed is a candidate.
  size_t best = 0;
  std::function<void(size_t)> attributes = [&](size_t j) {
    // [ ]*\/?[ ]*\> here.
    size_t k = j + RunLength(s, j, [](char32_t c) { return c == ' '; });
    best = std::max(best, close(k));
    if (At(s, k) == '/') best = std::max(best, close(k + 1));
    // [ ]+ attribute
    const size_t spaces = RunLength(s, j, [](char32_t c) { return c == ' '; });
    if (spaces == 0 || !IsAsciiLetter(At(s, j + spaces))) return;
    const size_t name_start = j + spaces;
    const size_t name_end = name_start + 1 + RunLength(s, name_start + 1, name_char);
    attributes(name_end);  // attribute without value
    size_t e = name_end + RunLength(s, name_end, [](char32_t c) { return c == ' '; });
    if (At(s, e) != '=') return;
    ++e;
    e += RunLength(s, e, [](char32_t c) { return c == ' '; });
    const char32_t quote = At(s, e);
    if (quote != '\'' && quote != '"') return;
    size_t q = e + 1;
    while (q < s.size() && s[q] != quote) ++q;
    if (q >= s.size()) return;
    attributes(q + 1);
  };
  attributes(i + 1 + RunLength(s, i + 1, name_char));
  return best;
}

// WORD = {LETTER}({LETTER}|{DIGIT})*([.!?]{LETTER}({LETTER}|{DIGIT})*)*
size_t MatchWord(const U32& s, size_t pos) {
  if (!IsLetter(At(s, pos))) return 0;
  size_t j = pos + 1 + RunLength(s, pos + 1, IsLetterOrDigit);
  while (j < s.size() && (s[j] == '.' || s[j] == '!' || s[j] == '?') && IsLetter(At(s, j + 1))) {
    j += 2 + RunLength(s, j + 2, IsLetterOrDigit);
  }
  return j - pos;
}

// REDAUX = {APOS}([msdMSD]|re|ve|ll)
size_t MatchRedaux(const U32& s, size_t pos) {
  if (!IsApos(At(s, pos))) return 0;
  if (MatchAnyLiteral(s, pos + 1, {"re", "ve", "ll"}) > 0) return 3;
  const char32_t c = At(s, pos + 1);
  return (c == 'm' || c == 's' || c == 'd' || c == 'M' || c == 'S' || c == 'D') ? 2 : 0;
}

// SREDAUX = n{APOSETCETERA}t
size_t MatchSredaux(const U32& s, size_t pos) {
  return (Lower(At(s, pos)) == 'n' && IsAposEtc(At(s, pos + 1)) && Lower(At(s, pos + 2)) == 't')
             ? 3
             : 0;
}

size_t MatchApoword(const U32& s, size_t pos) {
  size_t best = 0;
  const char32_t c0 = At(s, pos);
  if (IsApos(c0)) {
    if (Lower(At(s, pos + 1)) == 'n') best = std::max<size_t>(best, IsApos(At(s, pos + 2)) ? 3 : 2);
    if (MatchLiteral(s, pos + 1, "em")) best = std::max<size_t>(best, 3);
    if (MatchLiteral(s, pos + 1, "till")) {
      best = std::max<size_t>(best, 5);
    } else if (MatchLiteral(s, pos + 1, "til")) {
      best = std::max<size_t>(best, 4);
    }
    if (MatchLiteral(s, pos + 1, "cause")) best = std::max<size_t>(best, 6);
    if (At(s, pos + 1) >= '2' && At(s, pos + 1) <= '9' && At(s, pos + 2) == '0' &&
        Lower(At(s, pos + 3)) == 's') {
      best = std::max<size_t>(best, 4);
    }
  }
  if (std::u32string_view(U"lLdDjJ").find(c0) != std::u32string_view::npos && c0 != 0 &&
      IsApos(At(s, pos + 1))) {
    best = std::max<size_t>(best, 2);
  }
  for (std::string_view w : {"dunkin", "somethin", "ol"}) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && IsApos(At(s, pos + m))) best = std::max(best, m + 1);
  }
  // [A-HJ-XZn]{APOSETCETERA}[:letter:]{2}[:letter:]*
  if (((c0 >= 'A' && c0 <= 'H') || (c0 >= 'J' && c0 <= 'X') || c0 == 'Z' || c0 == 'n') &&
      IsAposEtc(At(s, pos + 1))) {
    const size_t letters = RunLength(s, pos + 2, [](char32_t c) { return IsUnicodeLetter(c); });
    if (letters >= 2) best = std::max(best, 2 + letters);
  }
  // [:letter:][:letter:]*[aeiouyAEIOUY]{APOSETCETERA}[aeiouA-Z][:letter:]*
  {
    const size_t letters = RunLength(s, pos, [](char32_t c) { return IsUnicodeLetter(c); });
    // The vowel is the last letter before the apostrophe (letters do not include apostrophes).
    if (letters >= 2) {
      const size_t a = pos + letters;
      const char32_t v = s[a - 1];
      if (std::u32string_view(U"aeiouyAEIOUY").find(v) != std::u32string_view::npos &&
          IsAposEtc(At(s, a))) {
        const char32_t c = At(s, a + 1);
        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || IsAsciiUpper(c)) {
          best = std::max(best, letters + 2 + RunLength(s, a + 2, [](char32_t x) {
                                  return IsUnicodeLetter(x);
                                }));
        }
      }
    }
  }
  for (std::string_view w : {"cont'd.", "cont'd", "'twas", "nor'easter", "c'mon", "e'er", "s'mores",
                             "ev'ry", "li'l", "nat'l"}) {
    best = std::max(best, MatchLiteral(s, pos, w));
  }
  // O{APOSETCETERA}o
  if (Lower(c0) == 'o' && IsAposEtc(At(s, pos + 1)) && Lower(At(s, pos + 2)) == 'o') {
    best = std::max<size_t>(best, 3);
  }
  return best;
}

// FULLURL = https?:\/\/[^ \t\n\f\r\"<>|(){}]+[^ \t\n\f\r\"<>|.!?(){},-]
size_t MatchFullUrl(const U32& s, size_t pos) {
  const size_t scheme = std::max(MatchLiteral(s, pos, "http://"), MatchLiteral(s, pos, "https://"));
  if (scheme == 0) return 0;
  const size_t rest = BodyThenLast(s, pos + scheme, UrlBody, UrlLast);
  return rest > 0 ? scheme + rest : 0;
}

// LIKELYURL = ((www\.([^ \t\n\f\r\"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})|
//             (([^ \t\n\f\r\"`'<>|.!?(){},-_$]+\.)+(com|net|org|edu)))
//             (\/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-])?
size_t MatchLikelyUrl(const U32& s, size_t pos) {
  auto label1 = [](char32_t c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' || c == '<' ||
             c == '>' || c == '|' || c == '.' || c == '!' || c == '?' || c == '(' || c == ')' ||
             c == '{' || c == '}' || c == ',');
  };
  // ",-_" in the class is a range: it excludes 0x2C..0x5F (digits, upper case, most punctuation).
  auto label2 = [&](char32_t c) {
    return label1(c) && c != '`' && c != '\'' && !(c >= 0x2C && c <= 0x5F) && c != '$';
  };
  std::vector<size_t> ends;  // candidate ends of the host part
  // Alternative 1: www. (label .)+ [a-zA-Z]{2,4}
  if (MatchLiteral(s, pos, "www.")) {
    size_t j = pos + 4;
    while (true) {
      const size_t label = RunLength(s, j, label1);
      if (label == 0 || At(s, j + label) != '.') break;
      j += label + 1;
      const size_t tld = RunLength(s, j, IsAsciiLetter);
      for (size_t t = 2; t <= std::min<size_t>(4, tld); ++t) ends.push_back(j + t);
    }
  }
  // Alternative 2: (label .)+ (com|net|org|edu)
  {
    size_t j = pos;
    while (true) {
      const size_t label = RunLength(s, j, label2);
      if (label == 0 || At(s, j + label) != '.') break;
      j += label + 1;
      if (MatchAnyLiteral(s, j, {"com", "net", "org", "edu"}) > 0) ends.push_back(j + 3);
    }
  }
  size_t best = 0;
  for (size_t end : ends) {
    size_t total = end - pos;
    if (At(s, end) == '/') {
      auto body = [](char32_t c) {
        return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' ||
                 c == '<' || c == '>' || c == '|' || c == '(' || c == ')');
      };
      const size_t path = BodyThenLast(s, end + 1, body, UrlLast);
      if (path > 0) total += 1 + path;
    }
    best = std::max(best, total);
  }
  return best;
}

// EMAIL = (&lt;|<)?[a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00A0{}]*@([^ \t\n\f\r\"<>|(){}.\u00A0]+\.)*
//         ([^ \t\n\f\r\"<>|(){}.\u00A0]+)(&gt;|>)?
size_t MatchEmail(const U32& s, size_t pos) {
  size_t start = pos;
  if (At(s, pos) == '<') {
    start = pos + 1;
  } else if (MatchLiteral(s, pos, "&lt;")) {
    start = pos + 4;
  }
  auto local = [](char32_t c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' || c == '<' ||
             c == '>' || c == '|' || c == '(' || c == ')' || c == 0xA0 || c == '{' || c == '}');
  };
  auto label = [&](char32_t c) { return local(c) && c != '.'; };
  if (!IsAsciiAlnum(At(s, start))) return 0;
  const size_t run = 1 + RunLength(s, start + 1, local);
  size_t best = 0;
  for (size_t at = start + 1; at < start + run; ++at) {
    if (s[at] != '@') continue;
    // Domain: labels without '.', joined by single dots.
    size_t j = at + 1;
    size_t end = 0;
    while (true) {
      const size_t l = RunLength(s, j, label);
      if (l == 0) break;
      end = j + l;
      if (At(s, end) != '.') break;
      j = end + 1;
    }
    if (end == 0) continue;
    size_t total = end - pos;
    if (At(s, end) == '>') {
      total += 1;
    } else if (MatchLiteral(s, end, "&gt;")) {
      total += 4;
    }
    best = std::max(best, total);
  }
  return best;
}

// TWITTER = @[a-zA-Z_][a-zA-Z_0-9]* | #{LETTER}+
size_t MatchTwitter(const U32& s, size_t pos) {
  if (At(s, pos) == '@' && (IsAsciiLetter(At(s, pos + 1)) || At(s, pos + 1) == '_')) {
    return 2 + RunLength(s, pos + 2, [](char32_t c) { return IsAsciiAlnum(c) || c == '_'; });
  }
  if (At(s, pos) == '#') {
    const size_t letters = RunLength(s, pos + 1, IsLetter);
    return letters > 0 ? 1 + letters : 0;
  }
  return 0;
}

// DATE = {DIGIT}{1,2}[\-\/]{DIGIT}{1,2}[\-\/]{DIGIT}{2,4}
size_t MatchDate(const U32& s, size_t pos) {
  auto sep = OneOf(U"-/");
  return SequenceLength(s, pos, {{IsDigit, 1, 2}, sep, {IsDigit, 1, 2}, sep, {IsDigit, 2, 4}});
}

// NUMBER = [\-+]?({DIGIT}+|{DIGIT}*([.:,\u00AD\u066B\u066C]{DIGIT}+)+)
size_t MatchNumber(const U32& s, size_t pos) {
  size_t j = pos;
  if (At(s, j) == '-' || At(s, j) == '+') ++j;
  const size_t start = j;
  j += RunLength(s, j, IsDigit);
  size_t end = j > start ? j : 0;
  auto sep = [](char32_t c) {
    return c == '.' || c == ':' || c == ',' || c == 0xAD || c == 0x66B || c == 0x66C;
  };
  while (j < s.size() && sep(s[j])) {
    const size_t digits = RunLength(s, j + 1, IsDigit);
    if (digits == 0) break;
    j += 1 + digits;
    end = j;
  }
  return end == 0 ? 0 : end - pos;
}

// SUBSUPNUM =
// [\u207A\u207B\u208A\u208B]?([\u2070\u00B9\u00B2\u00B3\u2074-\u2079]+|[\u2080-\u2089]+)
size_t MatchSubSupNum(const U32& s, size_t pos) {
  size_t j = pos;
  const char32_t c = At(s, j);
  if (c == 0x207A || c == 0x207B || c == 0x208A || c == 0x208B) ++j;
  auto sup = [](char32_t x) {
    return x == 0x2070 || x == 0xB9 || x == 0xB2 || x == 0xB3 || (x >= 0x2074 && x <= 0x2079);
  };
  auto sub = [](char32_t x) { return x >= 0x2080 && x <= 0x2089; };
  const size_t n = std::max(RunLength(s, j, sup), RunLength(s, j, sub));
  return n > 0 ? j + n - pos : 0;
}

// FRAC = ({DIGIT}{1,4}[- \u00A0])?{DIGIT}{1,4}(\\?\/|\u2044){DIGIT}{1,4}
size_t MatchFrac(const U32& s, size_t pos) {
  const Atom digits{IsDigit, 1, 4};
  const Atom sep = OneOf(U"- \u00A0");
  const Atom backslash = Char('\\', 0, 1);
  const Atom slash = Char('/');
  size_t best = 0;
  for (bool prefix : {false, true}) {
    std::vector<Atom> with_slash;
    std::vector<Atom> with_fraction_slash;
    if (prefix) {
      with_slash = {digits, sep};
      with_fraction_slash = {digits, sep};
    }
    with_slash.insert(with_slash.end(), {digits, backslash, slash, digits});
    with_fraction_slash.insert(with_fraction_slash.end(), {digits, Char(0x2044), digits});
    best = std::max(
        {best, SequenceLength(s, pos, with_slash), SequenceLength(s, pos, with_fraction_slash)});
  }
  return best;
}

// THING3 = [A-Za-z0-9]+(-[A-Za-z]+){0,2}(\\?\/[A-Za-z0-9]+(-[A-Za-z]+){0,2}){1,2}
size_t MatchThing3(const U32& s, size_t pos) {
  // segment = [A-Za-z0-9]+(-[A-Za-z]+){0,2}; all ends of a segment starting at p.
  auto segment_ends = [&](size_t p) {
    std::vector<size_t> ends;
    const size_t run = RunLength(s, p, IsAsciiAlnum);
    for (size_t r = 1; r <= run; ++r) {
      size_t j = p + r;
      ends.push_back(j);
      for (int k = 0; k < 2 && At(s, j) == '-'; ++k) {
        const size_t letters = RunLength(s, j + 1, IsAsciiLetter);
        if (letters == 0) break;
        for (size_t l = 1; l < letters; ++l) ends.push_back(j + 1 + l);
        j += 1 + letters;
        ends.push_back(j);
      }
    }
    return ends;
  };
  size_t best = 0;
  std::function<void(size_t, int)> slashes = [&](size_t j, int count) {
    if (count >= 1) best = std::max(best, j - pos);
    if (count == 2) return;
    size_t k = j;
    if (At(s, k) == '\\') ++k;
    if (At(s, k) != '/') return;
    for (size_t e : segment_ends(k + 1)) slashes(e, count + 1);
  };
  for (size_t e : segment_ends(pos)) slashes(e, 0);
  return best;
}

// FILENAME = ({LETTER}|{DIGIT})+([.]({LETTER}|{DIGIT})+)*([.]{FILENAME_EXT})
size_t MatchFilename(const U32& s, size_t pos) {
  size_t j = pos + RunLength(s, pos, IsLetterOrDigit);
  if (j == pos) return 0;
  size_t best = 0;
  while (At(s, j) == '.') {
    for (std::string_view ext : kFilenameExt) {
      const size_t m = MatchLiteral(s, j + 1, ext);
      const char32_t next = At(s, j + 1 + m);
      const bool context =
          IsSpaceNl(next) || next == '.' || next == '?' || next == '!' || next == ',';
      if (m > 0 && context) best = std::max(best, j + 1 + m - pos);
    }
    const size_t part = RunLength(s, j + 1, IsLetterOrDigit);
    if (part == 0) break;
    j += 1 + part;
  }
  return best;
}

// PHONE = (\([0-9]{2,3}\)[ \u00A0]?|(\+\+?)?([0-9]{2,4}[\- \u00A0])?[0-9]{2,4}[\- \u00A0])
//         [0-9]{3,4}[\- \u00A0]?[0-9]{3,5}
//       | ((\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5}
size_t MatchPhone(const U32& s, size_t pos) {
  const Atom sep = OneOf(U"- \u00A0");
  const Atom opt_sep = OneOf(U"- \u00A0", 0, 1);
  const Atom plus = Char('+', 0, 2);
  const Atom dot = Char('.');
  const std::vector<Atom> tail = {Digits(3, 4), opt_sep, Digits(3, 5)};
  auto with_tail = [&](std::vector<Atom> head) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  return std::max(
      {SequenceLength(s, pos,
                      with_tail({Char('('), Digits(2, 3), Char(')'), OneOf(U" \u00A0", 0, 1)})),
       SequenceLength(s, pos, with_tail({plus, Digits(2, 4), sep, Digits(2, 4), sep})),
       SequenceLength(s, pos, with_tail({plus, Digits(2, 4), sep})),
       SequenceLength(
           s, pos, {plus, Digits(2, 4), dot, Digits(2, 4), dot, Digits(3, 4), dot, Digits(3, 5)}),
       SequenceLength(s, pos, {Digits(2, 4), dot, Digits(3, 4), dot, Digits(3, 5)})});
}

// SMILEY = [<>]?[:;=][\-o\*']?[\(\)DPdpO\\{@\|\[\]]
size_t MatchSmiley(const U32& s, size_t pos) {
  const Atom nose = OneOf(U"-o*'");
  const Atom mouth = OneOf(U"()DPdpO\\{@|[]");
  size_t best = 0;
  for (bool brow : {false, true}) {
    for (bool with_nose : {false, true}) {
      std::vector<Atom> atoms;
      if (brow) atoms.push_back(OneOf(U"<>"));
      atoms.push_back(OneOf(U":;="));
      if (with_nose) atoms.push_back(nose);
      atoms.push_back(mouth);
      const size_t m = SequenceLength(s, pos, atoms);
      // Trailing context [^A-Za-z0-9]: a character must follow.
      if (m > 0 && pos + m < s.size() && !IsAsciiAlnum(s[pos + m])) best = std::max(best, m);
    }
  }
  return best;
}

// ASIANSMILEY's usable alternatives: [\-\^x=~<>']_[\-\^x=~<>'] | \([\-\^x=~<>'][_.]?[\-\^x=~<>']\)
//   | \([\^x=~<>']-[\^x=~<>'`]\)
size_t MatchAsianSmiley(const U32& s, size_t pos) {
  const Atom eye = OneOf(U"-^x=~<>'");
  return std::max(
      {SequenceLength(s, pos, {eye, Char('_'), eye}),
       SequenceLength(s, pos, {Char('('), eye, OneOf(U"_.", 0, 1), eye, Char(')')}),
       SequenceLength(s, pos,
                      {Char('('), OneOf(U"^x=~<>'"), Char('-'), OneOf(U"^x=~<>'`"), Char(')')})});
}

// HTHING = [A-Za-z0-9][A-Za-z0-9.,\u00AD]*(-([A-Za-z0-9\u00AD]+|{ACRO2}\.))+
size_t MatchHthing(const U32& s, size_t pos) {
  if (!IsAsciiAlnum(At(s, pos))) return 0;
  const size_t first_max = 1 + RunLength(s, pos + 1, [](char32_t c) {
                             return IsAsciiAlnum(c) || c == '.' || c == ',' || c == 0xAD;
                           });
  // Longest end reachable from a '-' at j by one or more parts. A map over the '-' positions
  // visited, not a vector over the text: `s` is the whole batch and this runs at every word, so
  // a vector of s.size() made tokenizing a batch quadratic (minutes for the long-answer sample
  // under AddressSanitizer, whose large allocations are mmap + memset).
  std::unordered_map<size_t, size_t> memo;
  std::function<size_t(size_t)> parts = [&](size_t j) -> size_t {
    if (At(s, j) != '-') return 0;
    if (auto it = memo.find(j); it != memo.end()) return it->second;
    size_t best = 0;
    const size_t plain =
        RunLength(s, j + 1, [](char32_t c) { return IsAsciiAlnum(c) || c == 0xAD; });
    for (size_t p = 1; p <= plain; ++p) {
      best = std::max({best, j + 1 + p, parts(j + 1 + p)});
    }
    // ACRO2 '.': [A-Za-z](\.[A-Za-z])+ '.' or a special compound.
    if (IsAsciiLetter(At(s, j + 1))) {
      size_t k = j + 2;
      while (At(s, k) == '.' && IsAsciiLetter(At(s, k + 1))) {
        k += 2;
        if (At(s, k) == '.') best = std::max({best, k + 1, parts(k + 1)});
      }
    }
    const size_t special = MatchAcroCompound(s, j + 1);
    if (special > 0 && At(s, j + 1 + special) == '.') {
      best = std::max({best, j + 2 + special, parts(j + 2 + special)});
    }
    memo[j] = best;
    return best;
  };
  size_t best = 0;
  for (size_t first = 1; first <= first_max; ++first) {
    const size_t end = parts(pos + first);
    if (end > 0) best = std::max(best, end - pos);
  }
  return best;
}

// THING = ([dDoOlL]{APOSETCETERA}([:letter:]|[:digit:]))?([:letter:]|[:digit:])+
//         ({HYPHEN}([dDoOlL]{APOSETCETERA}([:letter:]|[:digit:]))?([:letter:]|[:digit:])+)*
size_t MatchThing(const U32& s, size_t pos) {
  auto alnum = [](char32_t c) { return IsUnicodeLetter(c) || IsAsciiDigit(c); };
  auto part = [&](size_t p) -> size_t {
    size_t best = RunLength(s, p, alnum);
    const char32_t c = At(s, p);
    // The prefix takes one alphanumeric after the apostrophe and the main part at least one more.
    if ((c == 'd' || c == 'D' || c == 'o' || c == 'O' || c == 'l' || c == 'L') &&
        IsAposEtc(At(s, p + 1)) && RunLength(s, p + 2, alnum) >= 2) {
      best = std::max(best, 2 + RunLength(s, p + 2, alnum));
    }
    return best;
  };
  size_t j = pos + part(pos);
  if (j == pos) return 0;
  while (IsHyphen(At(s, j))) {
    const size_t p = part(j + 1);
    if (p == 0) break;
    j += 1 + p;
  }
  return j - pos;
}

// THINGA = [A-Z]+(([+&]|{SPAMP})[A-Z]+)+
size_t MatchThinga(const U32& s, size_t pos) {
  size_t j = pos + RunLength(s, pos, IsAsciiUpper);
  if (j == pos) return 0;
  size_t end = 0;
  while (true) {
    size_t k = j;
    if (MatchLiteral(s, k, "&amp;")) {
      k += 5;
    } else if (At(s, k) == '+' || At(s, k) == '&') {
      k += 1;
    } else {
      break;
    }
    const size_t upper = RunLength(s, k, IsAsciiUpper);
    if (upper == 0) break;
    j = k + upper;
    end = j;
  }
  return end > 0 ? end - pos : 0;
}

}  // namespace lmeye::eval::ptb
