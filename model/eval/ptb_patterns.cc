#include "model/eval/ptb_patterns.h"

#include <algorithm>

#include "model/eval/text_util.h"

namespace lmeye::eval::ptb {
namespace {

// ABBREV1 words (followed by '.'), ABBREV4 words (ABBREV2 = ABBREV4 + '.').
constexpr std::string_view kAbbrev1[] = {
    "jan",     "feb",  "mar",  "apr",  "jun",  "jul",  "aug",   "sep",  "sept",  "oct",  "nov",
    "dec",     "mon",  "tue",  "tues", "wed",  "thu",  "thurs", "fri",  "ala",   "ariz", "ark",
    "calif",   "colo", "conn", "dak",  "del",  "fla",  "ga",    "ill",  "ind",   "kan",  "kans",
    "ky",      "la",   "mass", "md",   "mich", "minn", "miss",  "mo",   "mont",  "neb",  "nev",
    "okla",    "ore",  "pa",   "penn", "tenn", "tex",  "va",    "vt",   "wash",  "wis",  "wisc",
    "wyo",     "inc",  "co",   "cos",  "corp", "pty",  "ptys",  "ppty", "pptys", "ltd",  "plc",
    "bancorp", "dept", "bhd",  "assn", "univ", "intl", "sys",   "no",   "nos",   "prop", "ph",
    "tel",     "est",  "ext",  "sq",   "ft",   "jr",   "sr",    "bros", "ed.d",  "ph.d", "blvd",
    "rd",      "esq",  "etc",  "al",   "seq"};
constexpr std::string_view kAbbrev4[] = {
    "mr",   "mrs",  "ms",    "miss",  "dr",  "drs",   "prof",   "profs", "sen",  "sens", "rep",
    "reps", "atty", "attys", "lt",    "col", "gen",   "messrs", "gov",   "govs", "adm",  "rev",
    "maj",  "sgt",  "cpl",   "pvt",   "mt",  "capt",  "st",     "ste",   "ave",  "pres", "lieut",
    "hon",  "brig", "cmdr",  "comdr", "pfc", "spc",   "supt",   "supts", "det",  "vs",   "alex",
    "wm",   "jos",  "cie",   "a.k.a", "cf",  "treas", "invt",   "elec",  "natl", "mfg",  "mtg"};
// Capitalised words after which an acronym's period also ends the sentence.
constexpr std::string_view kSentenceStarters[] = {
    "About",   "According", "Additionally", "After", "An",      "A",     "As",   "At",    "But",
    "Earlier", "He",        "Her",          "Here",  "However", "If",    "In",   "It",    "Last",
    "Many",    "More",      "Mr.",          "Ms.",   "Now",     "Once",  "One",  "Other", "Our",
    "She",     "Since",     "So",           "Some",  "Such",    "That",  "The",  "Then",  "There",
    "These",   "They",      "This",         "We",    "When",    "While", "What", "Yet",   "You"};

// Longest listed word matching at pos and followed by '.' (returns the length without the dot).
template <size_t N>
size_t MatchListBeforeDot(const U32& s, size_t pos, const std::string_view (&list)[N]) {
  size_t best = 0;
  for (std::string_view w : list) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && pos + m < s.size() && s[pos + m] == '.') best = std::max(best, m);
  }
  return best;
}

}  // namespace

// Character classes of PTBLexer.flex -------------------------------------------------------

bool IsSpace(char32_t c) {  // SPACE
  return c == ' ' || c == '\t' || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) || c == 0x3000;
}
bool IsNewline(char32_t c) {  // NEWLINE
  return c == '\r' || c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x0B || c == 0x0C ||
         c == 0x85;
}
bool IsSpaceNl(char32_t c) { return IsSpace(c) || IsNewline(c); }
bool IsIgnorable(char32_t c) {  // \0, SPACES, zero-width characters, DEL
  return c == 0 || IsSpaceNl(c) || c == 0x200B || c == 0x200E || c == 0x200F || c == 0xFEFF ||
         c == 0x7F;
}
bool IsLetter(char32_t c) {  // LETTER: [:letter:] plus soft hyphen and combining marks
  return IsUnicodeLetter(c) || c == 0xAD || (c >= 0x300 && c <= 0x36F);
}
bool IsDigit(char32_t c) { return IsAsciiDigit(c); }
bool IsAlnum(char32_t c) { return IsLetter(c) || IsDigit(c); }
bool IsApos(char32_t c) { return c == '\'' || c == 0x92 || c == 0x2019; }  // APOS (sans &apos;)
bool IsAposEtc(char32_t c) { return IsApos(c) || c == 0x91 || c == 0x2018 || c == 0x201B; }
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
  if ((c >= 0xB0 && c <= 0xBA) || c == 0xD7 || c == 0xF7) return true;
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

// Case-insensitive literal match at `pos` (the lexer is %caseless outside character classes).
size_t MatchLiteral(const U32& s, size_t pos, std::string_view lit) {
  if (pos + lit.size() > s.size()) return 0;
  for (size_t k = 0; k < lit.size(); ++k) {
    if (Lower(s[pos + k]) != Lower(static_cast<char32_t>(lit[k]))) return 0;
  }
  return lit.size();
}

size_t MatchAnyLiteral(const U32& s, size_t pos, std::initializer_list<std::string_view> lits) {
  size_t best = 0;
  for (std::string_view lit : lits) best = std::max(best, MatchLiteral(s, pos, lit));
  return best;
}

// Token patterns (each returns the matched length, 0 for no match) ---------------------------

size_t MatchWord(const U32& s, size_t pos) { return RunLength(s, pos, IsLetter); }

// REDAUX = {APOS}([msdMSD]|re|ve|ll)
size_t MatchRedaux(const U32& s, size_t pos) {
  if (pos >= s.size() || !IsApos(s[pos])) return 0;
  const size_t two = MatchAnyLiteral(s, pos + 1, {"re", "ve", "ll"});
  if (two > 0) return 1 + two;
  if (pos + 1 < s.size()) {
    const char32_t c = s[pos + 1];
    if (c == 'm' || c == 's' || c == 'd' || c == 'M' || c == 'S' || c == 'D') return 2;
  }
  return 0;
}

// SREDAUX = n{APOSETCETERA}t
size_t MatchSredaux(const U32& s, size_t pos) {
  if (pos + 2 < s.size() && Lower(s[pos]) == 'n' && IsAposEtc(s[pos + 1]) &&
      Lower(s[pos + 2]) == 't') {
    return 3;
  }
  return 0;
}

// NUM = {DIGIT}+ | {DIGIT}*([.:,\u00AD\u066B\u066C]{DIGIT}+)+ ; NUMBER = [\-+]?{NUM}
size_t MatchNumber(const U32& s, size_t pos) {
  size_t j = pos;
  if (j < s.size() && (s[j] == '-' || s[j] == '+')) ++j;
  const size_t start = j;
  j += RunLength(s, j, IsDigit);
  size_t end = j > start ? j : 0;
  while (j < s.size() && (s[j] == '.' || s[j] == ':' || s[j] == ',' || s[j] == 0xAD ||
                          s[j] == 0x66B || s[j] == 0x66C)) {
    const size_t digits = RunLength(s, j + 1, IsDigit);
    if (digits == 0) break;
    j += 1 + digits;
    end = j;
  }
  return end == 0 ? 0 : end - pos;
}

// DIGIT{lo,hi}
size_t MatchDigits(const U32& s, size_t pos, size_t lo, size_t hi) {
  const size_t n = std::min(RunLength(s, pos, IsDigit), hi);
  return n >= lo ? n : 0;
}

// FRAC = ({DIGIT}{1,4}[- \u00A0])?{DIGIT}{1,4}(\\?\/|\u2044){DIGIT}{1,4}
size_t MatchFracCore(const U32& s, size_t pos) {
  const size_t a = MatchDigits(s, pos, 1, 4);
  if (a == 0 || RunLength(s, pos, IsDigit) > 4) return 0;
  size_t j = pos + a;
  if (j < s.size() && s[j] == '\\') ++j;
  if (j >= s.size() || (s[j] != '/' && s[j] != 0x2044)) return 0;
  if (s[j] == 0x2044 && s[j - 1] == '\\') return 0;
  ++j;
  const size_t b = MatchDigits(s, j, 1, 4);
  if (b == 0) return 0;
  return j + b - pos;
}
size_t MatchFrac(const U32& s, size_t pos) {
  size_t best = MatchFracCore(s, pos);
  const size_t a = RunLength(s, pos, IsDigit);
  if (a >= 1 && a <= 4 && pos + a < s.size() &&
      (s[pos + a] == '-' || s[pos + a] == ' ' || s[pos + a] == 0xA0)) {
    const size_t rest = MatchFracCore(s, pos + a + 1);
    if (rest > 0) best = std::max(best, a + 1 + rest);
  }
  return best;
}

// DATE = {DIGIT}{1,2}[\-\/]{DIGIT}{1,2}[\-\/]{DIGIT}{2,4}
size_t MatchDate(const U32& s, size_t pos) {
  size_t j = pos;
  for (int part = 0; part < 3; ++part) {
    const size_t run = RunLength(s, j, IsDigit);
    const size_t lo = part == 2 ? 2 : 1;
    const size_t hi = part == 2 ? 4 : 2;
    if (run < lo) return 0;
    if (part < 2 && run > hi) return 0;
    j += std::min(run, hi);
    if (part < 2) {
      if (j >= s.size() || (s[j] != '-' && s[j] != '/')) return 0;
      ++j;
    }
  }
  return j - pos;
}

// ([dDoOlL]{APOSETCETERA}[alnum])?[alnum]+
size_t MatchThingPart(const U32& s, size_t pos) {
  size_t prefix = 0;
  if (pos + 2 < s.size() &&
      (s[pos] == 'd' || s[pos] == 'D' || s[pos] == 'o' || s[pos] == 'O' || s[pos] == 'l' ||
       s[pos] == 'L') &&
      IsAposEtc(s[pos + 1]) && IsAlnum(s[pos + 2])) {
    prefix = 3;
  }
  const size_t with_prefix = prefix > 0 ? prefix + RunLength(s, pos + prefix, IsAlnum) : 0;
  return std::max(with_prefix, RunLength(s, pos, IsAlnum));
}

// THING = part ({HYPHEN} part)*
size_t MatchThing(const U32& s, size_t pos) {
  size_t j = pos + MatchThingPart(s, pos);
  if (j == pos) return 0;
  while (j < s.size() && IsHyphen(s[j])) {
    const size_t part = MatchThingPart(s, j + 1);
    if (part == 0) break;
    j += 1 + part;
  }
  return j - pos;
}

// ACRO = [A-Za-z](\.[A-Za-z])+ (the rarer U.S.-compound alternatives are not handled)
size_t MatchAcro(const U32& s, size_t pos) {
  if (pos >= s.size() || !IsAsciiLetter(s[pos])) return 0;
  size_t j = pos + 1;
  while (j + 1 < s.size() && s[j] == '.' && IsAsciiLetter(s[j + 1])) j += 2;
  return j - pos >= 3 ? j - pos : 0;
}

// HTHING = [A-Za-z0-9][A-Za-z0-9.,\u00AD]*(-([A-Za-z0-9\u00AD]+|{ACRO}\.))+
size_t MatchHthing(const U32& s, size_t pos) {
  auto ascii_alnum = [](char32_t c) { return IsAsciiLetter(c) || IsAsciiDigit(c); };
  if (pos >= s.size() || !ascii_alnum(s[pos])) return 0;
  // The first part may swallow hyphen-free text with dots/commas; the regex backtracks to the
  // longest overall match, so try every end of the first part.
  const size_t first_max = 1 + RunLength(s, pos + 1, [&](char32_t c) {
                             return ascii_alnum(c) || c == '.' || c == ',' || c == 0xAD;
                           });
  size_t best = 0;
  for (size_t first = first_max; first >= 1; --first) {
    size_t j = pos + first;
    size_t end = 0;
    while (j < s.size() && s[j] == '-') {
      const size_t plain =
          RunLength(s, j + 1, [&](char32_t c) { return ascii_alnum(c) || c == 0xAD; });
      const size_t acro = MatchAcro(s, j + 1);
      const size_t acro_dot =
          (acro > 0 && j + 1 + acro < s.size() && s[j + 1 + acro] == '.') ? acro + 1 : 0;
      const size_t part = std::max(plain, acro_dot);
      if (part == 0) break;
      j += 1 + part;
      end = j;
    }
    if (end > 0) best = std::max(best, end - pos);
    if (best > 0 && first < first_max) break;  // shorter first parts cannot do better here
  }
  return best;
}

// THING3 = [A-Za-z0-9]+(-[A-Za-z]+){0,2}(\\?\/[A-Za-z0-9]+(-[A-Za-z]+){0,2}){1,2}
size_t MatchThing3(const U32& s, size_t pos) {
  auto ascii_alnum = [](char32_t c) { return IsAsciiLetter(c) || IsAsciiDigit(c); };
  auto segment = [&](size_t p) -> size_t {
    size_t j = p + RunLength(s, p, ascii_alnum);
    if (j == p) return 0;
    for (int k = 0; k < 2 && j < s.size() && s[j] == '-'; ++k) {
      const size_t letters = RunLength(s, j + 1, IsAsciiLetter);
      if (letters == 0) break;
      j += 1 + letters;
    }
    return j - p;
  };
  size_t j = pos + segment(pos);
  if (j == pos) return 0;
  int slashes = 0;
  while (slashes < 2 && j < s.size()) {
    size_t k = j;
    if (s[k] == '\\') ++k;
    if (k >= s.size() || s[k] != '/') break;
    const size_t seg = segment(k + 1);
    if (seg == 0) break;
    j = k + 1 + seg;
    ++slashes;
  }
  return slashes > 0 ? j - pos : 0;
}

// THINGA = [A-Z]+(([+&]|&amp;)[A-Z]+)+
size_t MatchThinga(const U32& s, size_t pos) {
  size_t j = pos + RunLength(s, pos, IsAsciiUpper);
  if (j == pos) return 0;
  size_t end = 0;
  while (j < s.size()) {
    size_t k = j;
    if (s[k] == '+' || s[k] == '&') {
      k += (MatchLiteral(s, k, "&amp;") > 0) ? 5 : 1;
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

// APOWORD alternatives (the lexer's apostrophe words).
size_t MatchApoword(const U32& s, size_t pos) {
  size_t best = 0;
  const size_t n = s.size();
  // {APOS}n{APOS}?
  if (pos + 1 < n && IsApos(s[pos]) && Lower(s[pos + 1]) == 'n') {
    best = std::max<size_t>(best, (pos + 2 < n && IsApos(s[pos + 2])) ? 3 : 2);
  }
  // [lLdDjJ]{APOS}
  if (pos + 1 < n && std::u32string_view(U"lLdDjJ").find(s[pos]) != std::u32string_view::npos &&
      IsApos(s[pos + 1])) {
    best = std::max<size_t>(best, 2);
  }
  // Dunkin' somethin' ol'
  for (std::string_view w : {"dunkin", "somethin", "ol"}) {
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0 && pos + m < n && IsApos(s[pos + m])) best = std::max(best, m + 1);
  }
  if (pos < n && IsApos(s[pos])) {
    // 'em, 'till?, 'cause, '[2-9]0s
    if (MatchLiteral(s, pos + 1, "em")) best = std::max<size_t>(best, 3);
    if (MatchLiteral(s, pos + 1, "till")) {
      best = std::max<size_t>(best, 5);
    } else if (MatchLiteral(s, pos + 1, "til")) {
      best = std::max<size_t>(best, 4);
    }
    if (MatchLiteral(s, pos + 1, "cause")) best = std::max<size_t>(best, 6);
    if (pos + 3 < n && s[pos + 1] >= '2' && s[pos + 1] <= '9' && s[pos + 2] == '0' &&
        Lower(s[pos + 3]) == 's') {
      best = std::max<size_t>(best, 4);
    }
  }
  // [A-HJ-XZn]{APOSETCETERA}[:letter:]{2}[:letter:]*
  if (pos + 3 < n &&
      ((s[pos] >= 'A' && s[pos] <= 'H') || (s[pos] >= 'J' && s[pos] <= 'X') || s[pos] == 'Z' ||
       s[pos] == 'n') &&
      IsAposEtc(s[pos + 1])) {
    const size_t letters = RunLength(s, pos + 2, IsLetter);
    if (letters >= 2) best = std::max(best, 2 + letters);
  }
  // [:letter:][:letter:]*[aeiouyAEIOUY]{APOSETCETERA}[aeiouA-Z][:letter:]*
  {
    const size_t letters = RunLength(s, pos, IsLetter);
    if (letters >= 2) {
      const size_t a = pos + letters;
      const char32_t v = Lower(s[a - 1]);
      if ((v == 'a' || v == 'e' || v == 'i' || v == 'o' || v == 'u' || v == 'y') && a + 1 < n &&
          IsAposEtc(s[a])) {
        const char32_t c = s[a + 1];
        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || IsAsciiUpper(c)) {
          best = std::max(best, letters + 2 + RunLength(s, a + 2, IsLetter));
        }
      }
    }
  }
  // cont'd\.? 'twas nor'easter c'mon e'er s'mores ev'ry li'l nat'l
  for (std::string_view w : {"cont'd.", "cont'd", "'twas", "nor'easter", "c'mon", "e'er", "s'mores",
                             "ev'ry", "li'l", "nat'l"}) {
    best = std::max(best, MatchLiteral(s, pos, w));
  }
  return best;
}

// SGML = <\/?[A-Za-z!?][^>\r\n]*>
size_t MatchSgml(const U32& s, size_t pos) {
  if (pos >= s.size() || s[pos] != '<') return 0;
  size_t j = pos + 1;
  if (j < s.size() && s[j] == '/') ++j;
  if (j >= s.size() || !(IsAsciiLetter(s[j]) || s[j] == '!' || s[j] == '?')) return 0;
  ++j;
  while (j < s.size() && s[j] != '>' && s[j] != '\r' && s[j] != '\n') ++j;
  return (j < s.size() && s[j] == '>') ? j + 1 - pos : 0;
}

// FULLURL = https?:\/\/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-]
size_t MatchUrl(const U32& s, size_t pos) {
  const size_t scheme = std::max(MatchLiteral(s, pos, "http://"), MatchLiteral(s, pos, "https://"));
  if (scheme == 0) return 0;
  auto body = [](char32_t c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' || c == '<' ||
             c == '>' || c == '|' || c == '(' || c == ')');
  };
  auto last = [&](char32_t c) {
    return body(c) &&
           !(c == '.' || c == '!' || c == '?' || c == '{' || c == '}' || c == ',' || c == '-');
  };
  const size_t run = RunLength(s, pos + scheme, body);
  for (size_t len = run; len >= 2; --len) {
    if (last(s[pos + scheme + len - 1])) return scheme + len;
  }
  return 0;
}

// EMAIL = [a-zA-Z0-9][^ \t\n\f\r\"<>|()\u00A0]*@([^ \t\n\f\r\"<>|().\u00A0]+\.)*([^ ...]+)
size_t MatchEmail(const U32& s, size_t pos) {
  if (pos >= s.size() || !(IsAsciiLetter(s[pos]) || IsAsciiDigit(s[pos]))) return 0;
  auto local = [](char32_t c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '"' || c == '<' ||
             c == '>' || c == '|' || c == '(' || c == ')' || c == 0xA0);
  };
  const size_t run = 1 + RunLength(s, pos + 1, local);
  // The local part may contain '@'; the domain is what follows the last '@' that leaves one.
  for (size_t at = pos + run; at > pos + 1; --at) {
    if (s[at - 1] != '@') continue;
    const size_t domain = RunLength(s, at, [&](char32_t c) { return local(c) && c != '@'; });
    size_t end = at + domain;
    while (end > at && s[end - 1] == '.') --end;
    if (end > at) return end - pos;
  }
  return 0;
}

// ABBREV4 = [A-Za-z]|{ABTITLE}|...|{ACRO}|{ABCOMP2} (length without a following dot).
size_t MatchAbbrev4(const U32& s, size_t pos) {
  size_t best = MatchAcro(s, pos);
  for (std::string_view w : kAbbrev4) best = std::max(best, MatchLiteral(s, pos, w));
  if (best == 0 && pos < s.size() && IsAsciiLetter(s[pos])) best = 1;
  return best;
}

size_t MatchAbbrev1(const U32& s, size_t pos) { return MatchListBeforeDot(s, pos, kAbbrev1); }

size_t MatchSentenceStarter(const U32& s, size_t pos) {
  for (std::string_view w : kSentenceStarters) {
    // The first letter is a character class (case-sensitive), the rest is caseless.
    if (pos >= s.size() || s[pos] != static_cast<char32_t>(w[0])) continue;
    const size_t m = MatchLiteral(s, pos, w);
    if (m > 0) return m;
  }
  return 0;
}

}  // namespace lmeye::eval::ptb
