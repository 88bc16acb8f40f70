#include "model/eval/ptb_tokenizer.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "model/eval/ptb_patterns.h"
#include "model/eval/text_util.h"

namespace lmeye::eval {
// The lexer lives beside its patterns so it reads in their vocabulary.
namespace ptb {
namespace {

struct Candidate {
  size_t total = 0;     // matched length including trailing context (decides the longest match)
  size_t consumed = 0;  // characters that form the token
  std::u32string text;  // token text (before lower-casing)
};

std::u32string Delimit(const std::u32string& in, char32_t c) {
  std::u32string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == c && (i == 0 || in[i - 1] != '\\')) out.push_back('\\');
    out.push_back(in[i]);
  }
  return out;
}

std::u32string RemoveSoftHyphens(const std::u32string& in) {
  std::u32string out;
  for (char32_t c : in) {
    if (c != 0xAD) out.push_back(c);
  }
  return out.empty() ? U"-" : out;
}

// latexQuotes(): maps quote characters to `` ` ' ''.
std::u32string LatexQuotes(const std::u32string& in, bool probably_left) {
  std::u32string out;
  for (char32_t c : in) {
    if (c == '\'') {
      out += probably_left ? U"`" : U"'";
    } else if (c == '"') {
      out += probably_left ? U"``" : U"''";
    } else if (c == 0x91 || c == 0x2018 || c == 0x201B || c == 0x2039) {
      out += U"`";
    } else if (c == 0x92 || c == 0x2019 || c == 0x203A) {
      out += U"'";
    } else if (c == 0x93 || c == 0x201C || c == 0xAB) {
      out += U"``";
    } else if (c == 0x94 || c == 0x201D || c == 0xBB) {
      out += U"''";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string NormalizeCurrency(char32_t c) {
  if (c == 0xA2) return U"cents";
  if (c == 0xA3) return U"#";
  if (c == 0x80 || c == 0xA4 || c == 0x20A0 || c == 0x20AC) return U"$";
  return std::u32string(1, c);
}

class Lexer {
 public:
  explicit Lexer(const U32& s) : s_(s) {}

  std::vector<std::u32string> Run() {
    std::vector<std::u32string> tokens;
    size_t pos = 0;
    while (pos < s_.size()) {
      if (IsIgnorable(s_[pos])) {
        ++pos;
        continue;
      }
      Candidate best;
      auto offer = [&](size_t total, size_t consumed, std::u32string text) {
        if (total > best.total) {
          best.total = total;
          best.consumed = consumed;
          best.text = std::move(text);
        }
      };
      Offer(pos, offer);
      if (best.consumed == 0) {
        ++pos;  // untokenizable character: deleted (the lexer's default firstDelete)
        continue;
      }
      if (!best.text.empty()) tokens.push_back(best.text);
      pos += best.consumed;
    }
    return tokens;
  }

 private:
  U32 Sub(size_t pos, size_t len) const { return s_.substr(pos, len); }

  // Calls offer(total, consumed, text) for every rule that matches at pos, in the lexer's rule
  // order; offer keeps the first longest.
  template <typename OfferFn>
  void Offer(size_t pos, OfferFn& offer) const {
    const U32& s = s_;
    const size_t n = s.size();
    auto at = [&](size_t i) -> char32_t { return i < n ? s[i] : 0; };

    // Assimilations: cannot -> can not, gonna -> gon na, ... (pushback of the last part).
    for (std::string_view w : {"cannot", "gonna", "gotta", "lemme", "gimme", "wanna"}) {
      const size_t m = MatchLiteral(s, pos, w);
      if (m > 0) offer(m, m - (w == "cannot" ? 3 : 2), Sub(pos, m - (w == "cannot" ? 3 : 2)));
    }
    if (const size_t m = MatchSgml(s, pos)) {
      U32 txt = Sub(pos, m);
      std::replace(txt.begin(), txt.end(), U' ', char32_t{0xA0});
      offer(m, m, txt);
    }
    {  // SPMDASH
      const char32_t c = s[pos];
      if (c == 0x96 || c == 0x97 || c == 0x2013 || c == 0x2014 || c == 0x2015) offer(1, 1, U"--");
      if (const size_t m = MatchAnyLiteral(s, pos, {"&mdash;", "&ndash;", "&md;"})) {
        offer(m, m, U"--");
      }
    }
    if (const size_t m = MatchLiteral(s, pos, "&amp;")) offer(m, m, U"&");
    const size_t word = MatchWord(s, pos);
    if (word > 0) {  // {WORD}/{REDAUX}
      if (const size_t r = MatchRedaux(s, pos + word)) {
        offer(word + r, word, RemoveSoftHyphens(Sub(pos, word)));
      }
    }
    {  // {SWORD}/{SREDAUX}
      const size_t run =
          RunLength(s, pos, [](char32_t c) { return IsAsciiLetter(c) || c == 0xAD; });
      if (run >= 2 && Lower(s[pos + run - 1]) == 'n' && Lower(s[pos + run - 2]) != 'n' &&
          IsAsciiLetter(s[pos + run - 2]) && IsAposEtc(at(pos + run)) &&
          Lower(at(pos + run + 1)) == 't') {
        offer(run + 2, run - 1, RemoveSoftHyphens(Sub(pos, run - 1)));
      }
    }
    if (word > 0) offer(word, word, RemoveSoftHyphens(Sub(pos, word)));  // {WORD}
    if (const size_t m = MatchApoword(s, pos)) offer(m, m, Sub(pos, m));
    // {APOWORD2}/[:letter:]
    if (Lower(s[pos]) == 'y' && IsApos(at(pos + 1)) && IsLetter(at(pos + 2))) {
      offer(3, 2, Sub(pos, 2));
    }
    if (const size_t m = MatchUrl(s, pos)) offer(m, m, Delimit(Delimit(Sub(pos, m), '/'), '*'));
    if (const size_t m = MatchEmail(s, pos)) offer(m, m, Sub(pos, m));
    if (s[pos] == '@' || s[pos] == '#') {  // TWITTER
      const size_t m = s[pos] == '@' ? (IsAsciiLetter(at(pos + 1)) || at(pos + 1) == '_'
                                            ? 1 + RunLength(s, pos + 1,
                                                            [](char32_t c) {
                                                              return IsAsciiLetter(c) ||
                                                                     IsAsciiDigit(c) || c == '_';
                                                            })
                                            : 0)
                                     : (MatchWord(s, pos + 1) > 0 ? 1 + MatchWord(s, pos + 1) : 0);
      if (m > 0) offer(m, m, Sub(pos, m));
    }
    if (const size_t r = MatchRedaux(s, pos)) {  // {REDAUX}/[^A-Za-z]
      if (pos + r < n && !IsAsciiLetter(s[pos + r]))
        offer(r + 1, r, LatexQuotes(Sub(pos, r), false));
    }
    if (const size_t m = MatchSredaux(s, pos)) offer(m, m, LatexQuotes(Sub(pos, m), false));
    if (const size_t m = MatchDate(s, pos)) offer(m, m, Delimit(Sub(pos, m), '/'));
    if (const size_t m = MatchNumber(s, pos)) offer(m, m, RemoveSoftHyphens(Sub(pos, m)));
    if (const size_t m = MatchFrac(s, pos)) {
      U32 txt = Delimit(Sub(pos, m), '/');
      std::replace(txt.begin(), txt.end(), U' ', char32_t{0xA0});
      offer(m, m, txt);
    }
    {  // FRAC2
      const char32_t c = s[pos];
      static constexpr std::array<std::pair<char32_t, const char32_t*>, 5> kFractions = {
          {{0xBC, U"1\\/4"},
           {0xBD, U"1\\/2"},
           {0xBE, U"3\\/4"},
           {0x2153, U"1\\/3"},
           {0x2154, U"2\\/3"}}};
      if (c == 0xBC || c == 0xBD || c == 0xBE || (c >= 0x2153 && c <= 0x215E)) {
        U32 txt(1, c);
        for (const auto& [from, to] : kFractions) {
          if (c == from) txt = to;
        }
        offer(1, 1, txt);
      }
    }
    // TBSPEC
    if (const size_t m =
            MatchAnyLiteral(s, pos,
                            {"-rrb-", "-lrb-", "-rcb-", "-lcb-", "-rsb-", "-lsb-", "c.d.s", "pro-",
                             "anti-", "s&p-500", "s&ls", "cap'n", "c'est"})) {
      offer(m, m, Sub(pos, m));
    }
    if (const size_t m = MatchThing3(s, pos)) offer(m, m, Delimit(Sub(pos, m), '/'));
    {  // DOLSIGN = ([A-Z]*\$|#)
      const size_t upper = RunLength(s, pos, IsAsciiUpper);
      if (at(pos + upper) == '$') offer(upper + 1, upper + 1, Sub(pos, upper + 1));
      if (s[pos] == '#') offer(1, 1, U"#");
    }
    {  // DOLSIGN2 (normalizeCurrency)
      const char32_t c = s[pos];
      if (c == 0xA2 || c == 0xA3 || c == 0xA4 || c == 0xA5 || c == 0x80 || c == 0x20A0 ||
          c == 0x20AC || c == 0x60B || c == 0xE3F || c == 0x20A4 || c == 0xFFE0 || c == 0xFFE1 ||
          c == 0xFFE5 || c == 0xFFE6) {
        offer(1, 1, NormalizeCurrency(c));
      }
    }
    const size_t acro = MatchAcro(s, pos);
    // {ACRONYM}/({SPACES})(sentence starter){SPACE}: the acronym with its period, and the period
    // again as the next token.
    if (acro > 0 && at(pos + acro) == '.') {
      const size_t spaces = RunLength(s, pos + acro + 1, IsSpace);
      if (spaces > 0) {
        const size_t start = pos + acro + 1 + spaces;
        const size_t m = MatchSentenceStarter(s, start);
        if (m > 0 && IsSpace(at(start + m))) {
          offer(acro + 1 + spaces + m + 1, acro, Sub(pos, acro + 1));
        }
      }
    }
    const size_t ab1 = MatchAbbrev1(s, pos);
    if (ab1 > 0) {
      // {ABBREV1}/{SENTEND}: SENTEND = {SPACENL}({SPACENL}|[A-Z]|{SGML})
      const size_t after = pos + ab1 + 1;
      if (IsSpaceNl(at(after)) && (IsSpaceNl(at(after + 1)) || IsAsciiUpper(at(after + 1)) ||
                                   MatchSgml(s, after + 1) > 0)) {
        const size_t ctx = IsSpaceNl(at(after + 1)) || IsAsciiUpper(at(after + 1))
                               ? 2
                               : 1 + MatchSgml(s, after + 1);
        offer(ab1 + 1 + ctx, ab1, Sub(pos, ab1 + 1));
      }
      offer(ab1 + 1, ab1 + 1, Sub(pos, ab1 + 1));  // {ABBREV1}
    }
    const size_t ab4 = MatchAbbrev4(s, pos);
    if (ab4 > 0 && at(pos + ab4) == '.') offer(ab4 + 1, ab4 + 1, Sub(pos, ab4 + 1));  // ABBREV2
    if (ab4 > 0 && IsSpace(at(pos + ab4))) offer(ab4 + 1, ab4, Sub(pos, ab4));  // ABBREV4/SPACE
    if (acro > 0 && IsSpaceNl(at(pos + acro))) offer(acro + 1, acro, Sub(pos, acro));
    // {TBSPEC2}/{SPACENL}: '90
    if (IsApos(s[pos]) && IsAsciiDigit(at(pos + 1)) && IsAsciiDigit(at(pos + 2)) &&
        IsSpaceNl(at(pos + 3))) {
      offer(4, 3, Sub(pos, 3));
    }
    auto is_insentp = [](char32_t c) { return c == ',' || c == ';' || c == ':' || c == 0x3001; };
    if (word > 0 && at(pos + word) == '.' &&
        is_insentp(at(pos + word + 1))) {  // {WORD}\./{INSENTP}
      offer(word + 2, word + 1, RemoveSoftHyphens(Sub(pos, word + 1)));
    }
    if (s[pos] == '"' || MatchLiteral(s, pos, "&quot;")) {  // DBLQUOT
      const size_t m = s[pos] == '"' ? 1 : 6;
      const char32_t next = at(pos + m);
      if (IsAsciiLetter(next) || IsAsciiDigit(next) || next == '$') {
        offer(m + 1, m, U"``");
      }
      offer(m, m, U"''");
    }
    {  // Brackets
      const char32_t c = s[pos];
      if (c == '(') offer(1, 1, U"-LRB-");
      if (c == ')') offer(1, 1, U"-RRB-");
      if (c == '[') offer(1, 1, U"-LSB-");
      if (c == ']') offer(1, 1, U"-RSB-");
      if (c == '{') offer(1, 1, U"-LCB-");
      if (c == '}') offer(1, 1, U"-RCB-");
      if (c == '<' || c == '>') offer(1, 1, Sub(pos, 1));
      if (const size_t m = MatchLiteral(s, pos, "&lt;")) offer(m, m, U"<");
      if (const size_t m = MatchLiteral(s, pos, "&gt;")) offer(m, m, U">");
    }
    if (s[pos] == '-') {  // HYPHENS: 3-4 hyphens become the PTB dash "--"
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '-'; });
      offer(m, m, (m >= 3 && m <= 4) ? U"--" : Sub(pos, m));
    }
    {  // LDOTS = \.{3,5}|(\.[ \u00A0]){2,4}\.|[\u0085\u2026]
      const size_t dots =
          std::min<size_t>(RunLength(s, pos, [](char32_t c) { return c == '.'; }), 5);
      if (dots >= 3) offer(dots, dots, U"...");
      size_t pairs = 0;
      while (pairs < 4 && at(pos + 2 * pairs) == '.' &&
             (at(pos + 2 * pairs + 1) == ' ' || at(pos + 2 * pairs + 1) == 0xA0)) {
        ++pairs;
      }
      while (pairs >= 2) {
        if (at(pos + 2 * pairs) == '.') {
          offer(2 * pairs + 1, 2 * pairs + 1, U"...");
          break;
        }
        --pairs;
      }
      if (s[pos] == 0x85 || s[pos] == 0x2026) offer(1, 1, U"...");
    }
    for (char32_t mark : {U'@', U'#', U'_'}) {  // FNMARKS
      if (s[pos] == mark) {
        const size_t m = RunLength(s, pos, [mark](char32_t c) { return c == mark; });
        offer(m, m, Sub(pos, m));
      }
    }
    if (s[pos] == '*') {  // ASTS
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '*'; });
      offer(m, m, Delimit(Sub(pos, m), '*'));
    }
    if (is_insentp(s[pos])) offer(1, 1, Sub(pos, 1));
    if (s[pos] == '?' || s[pos] == '!') {
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '?' || c == '!'; });
      offer(m, m, Sub(pos, m));
    }
    {
      const char32_t c = s[pos];
      if (c == '.' || c == 0xA1 || c == 0xBF || c == 0x37E || c == 0x589 || c == 0x61F ||
          c == 0x6D4 || (c >= 0x700 && c <= 0x702) || c == 0x7FA || c == 0x3002) {
        offer(1, 1, Sub(pos, 1));
      }
      if (c == '=') offer(1, 1, U"=");
      if (c == '/') offer(1, 1, U"\\/");
    }
    if (const size_t m = MatchHthing(s, pos)) {
      if (at(pos + m) == '.' && is_insentp(at(pos + m + 1))) {
        offer(m + 2, m + 1, RemoveSoftHyphens(Sub(pos, m + 1)));
      }
      offer(m, m, RemoveSoftHyphens(Sub(pos, m)));
    }
    if (const size_t m = MatchThing(s, pos)) {
      if (at(pos + m) == '.' && is_insentp(at(pos + m + 1))) offer(m + 2, m + 1, Sub(pos, m + 1));
      offer(m, m, Sub(pos, m));
    }
    if (const size_t m = MatchThinga(s, pos)) {
      U32 txt = Sub(pos, m);
      offer(m, m, txt);
    }
    // '/[A-Za-z][^ \t\n\r\u00A0]: probably an opening quote.
    if (s[pos] == '\'' && IsAsciiLetter(at(pos + 1)) && pos + 2 < n) {
      const char32_t c = s[pos + 2];
      if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0)) {
        offer(3, 1, LatexQuotes(U"'", true));
      }
    }
    if (const size_t r = MatchRedaux(s, pos)) offer(r, r, LatexQuotes(Sub(pos, r), false));
    {  // QUOTES = {APOS}|''|[quote chars]{1,2}
      if (IsApos(s[pos])) offer(1, 1, LatexQuotes(Sub(pos, 1), false));
      if (s[pos] == '\'' && at(pos + 1) == '\'') offer(2, 2, U"''");
      if (IsQuoteChar(s[pos])) {
        const size_t m = IsQuoteChar(at(pos + 1)) ? 2 : 1;
        offer(m, m, LatexQuotes(Sub(pos, m), false));
      }
    }
    if ((s[pos] == '<' && at(pos + 1) == '<') || (s[pos] == '>' && at(pos + 1) == '>')) {
      offer(2, 2, Sub(pos, 2));
    }
    if (IsMiscSymbol(s[pos])) offer(1, 1, Sub(pos, 1));
  }

  const U32& s_;
};

}  // namespace
}  // namespace ptb

namespace {

constexpr std::string_view kCocoPunctuation[] = {"''",    "'",     "``", "`",   "-LRB-", "-RRB-",
                                                 "-LCB-", "-RCB-", ".",  "?",   "!",     ",",
                                                 ":",     "-",     "--", "...", ";"};

}  // namespace

std::vector<std::string> PtbTokenize(const std::string& line) {
  const std::u32string text = DecodeUtf8(line);
  std::vector<std::string> out;
  for (const std::u32string& token : ptb::Lexer(text).Run()) {
    std::string utf8;
    for (char32_t c : token) AppendUtf8(ToLowerCodePoint(c), &utf8);
    out.push_back(std::move(utf8));
  }
  return out;
}

bool IsCocoPunctuation(const std::string& token) {
  for (std::string_view p : kCocoPunctuation) {
    if (token == p) return true;
  }
  return false;
}

std::string CocoTokenize(const std::string& caption) {
  std::string line = caption;
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::string out;
  for (const std::string& token : PtbTokenize(line)) {
    if (IsCocoPunctuation(token)) continue;
    if (!out.empty()) out.push_back(' ');
    out += token;
  }
  return out;
}

}  // namespace lmeye::eval
