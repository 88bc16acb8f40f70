#include "model/eval/ptb_tokenizer.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "model/eval/ptb_abbreviations.h"
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

class Lexer {
 public:
  explicit Lexer(const U32& s) : s_(s) {}

  // Tokens per line; '\n' separates lines (the tokenizeNLs option -preserveLines sets).
  std::vector<std::vector<std::u32string>> Run() {
    std::vector<std::vector<std::u32string>> lines(1);
    size_t pos = 0;
    while (pos < s_.size()) {
      if (s_[pos] == '\n') {
        lines.emplace_back();
        ++pos;
        continue;
      }
      const char32_t c = s_[pos];
      if (IsIgnorable(c)) {
        // The lexer skips a whole {SPACE}+ run as one match; only LIKELYURL can start with a
        // space character (its host class excludes ' ' and \t but not, e.g., U+00A0) and beat it.
        const size_t run = IsSpace(c) ? RunLength(s_, pos, IsSpace) : 1;
        const size_t url = (c == ' ' || c == '\t') ? 0 : MatchLikelyUrl(s_, pos);
        if (url > run) {
          lines.back().push_back(Sub(pos, url));
          pos += url;
        } else {
          pos += run;
        }
        continue;
      }
      if (MatchLiteral(s_, pos, "&nbsp;")) {  // an entity space, skipped like whitespace
        pos += 6;
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
      if (!best.text.empty()) lines.back().push_back(best.text);
      pos += best.consumed;
    }
    return lines;
  }

 private:
  U32 Sub(size_t pos, size_t len) const { return s_.substr(pos, len); }

  // Calls offer(total, consumed, text) for every rule of PTBLexer.flex (v3.4.1, default options
  // plus tokenizeNLs) that matches at pos, in the lexer's rule order; offer keeps the first
  // longest. `total` includes trailing context, `consumed` is what the token uses up (less than
  // the text when the lexer pushes characters back).
  template <typename OfferFn>
  void Offer(size_t pos, OfferFn& offer) const {
    const U32& s = s_;
    const size_t n = s.size();
    auto at = [&](size_t i) -> char32_t { return i < n ? s[i] : 0; };
    auto is_insentp = [](char32_t c) { return c == ',' || c == ';' || c == ':' || c == 0x3001; };
    auto replace_parens = [](U32 txt) {
      U32 out;
      for (char32_t c : txt) {
        if (c == '(') {
          out += U"-LRB-";
        } else if (c == ')') {
          out += U"-RRB-";
        } else {
          out.push_back(c);
        }
      }
      return out;
    };
    auto nbsp = [](U32 txt) {
      std::replace(txt.begin(), txt.end(), U' ', char32_t{0xA0});
      return txt;
    };
    const char32_t c0 = s[pos];

    // c++, c#, f#
    if (Lower(c0) == 'c' && at(pos + 1) == '+' && at(pos + 2) == '+') offer(3, 3, Sub(pos, 3));
    if ((Lower(c0) == 'c' || Lower(c0) == 'f') && at(pos + 1) == '#') offer(2, 2, Sub(pos, 2));
    // Assimilations split by pushing back their tail.
    if (MatchLiteral(s, pos, "cannot")) offer(6, 3, Sub(pos, 3));
    if (MatchLiteral(s, pos, "'twas")) offer(5, 2, Sub(pos, 2));
    if (MatchLiteral(s, pos, "'tis")) offer(4, 2, Sub(pos, 2));
    if (MatchAnyLiteral(s, pos, {"gonna", "gotta", "lemme", "gimme", "wanna"})) {
      offer(5, 3, Sub(pos, 3));
    }
    if (const size_t m = MatchSgml(s, pos)) offer(m, m, nbsp(Sub(pos, m)));
    // SPMDASH
    if (c0 == 0x96 || c0 == 0x97 || c0 == 0x2013 || c0 == 0x2014 || c0 == 0x2015) {
      offer(1, 1, U"--");
    }
    if (const size_t m = MatchAnyLiteral(s, pos, {"&mdash;", "&ndash;", "&md;"})) {
      offer(m, m, U"--");
    }
    if (MatchLiteral(s, pos, "&amp;")) offer(5, 5, U"&");
    if (const size_t m = MatchAnyLiteral(
            s, pos, {"&ht;", "&tl;", "&ur;", "&lr;", "&qc;", "&ql;", "&qr;", "&odq;", "&cdq;"})) {
      offer(m, m, Sub(pos, m));  // SPPUNC
    }
    if (c0 == '&' && at(pos + 1) == '#') {
      const size_t digits = RunLength(s, pos + 2, IsAsciiDigit);
      if (digits > 0 && at(pos + 2 + digits) == ';')
        offer(3 + digits, 3 + digits, Sub(pos, 3 + digits));
    }
    const size_t word = MatchWord(s, pos);
    if (word > 0) {  // {WORD}/{REDAUX}
      if (const size_t r = MatchRedaux(s, pos + word)) {
        offer(word + r, word, RemoveSoftHyphens(Sub(pos, word)));
      }
    }
    {  // {SWORD}/{SREDAUX}: SWORD = [A-Za-z\u00AD]*[A-MO-Za-mo-z](\u00AD)*
      const size_t run =
          RunLength(s, pos, [](char32_t c) { return IsAsciiLetter(c) || c == 0xAD; });
      // The SWORD is the run minus the final 'n' (soft hyphens may follow its last letter).
      if (run >= 2 && Lower(s[pos + run - 1]) == 'n' && IsAposEtc(at(pos + run)) &&
          Lower(at(pos + run + 1)) == 't') {
        size_t last = pos + run - 2;
        while (last > pos && s[last] == 0xAD) --last;
        if (IsAsciiLetter(s[last]) && Lower(s[last]) != 'n') {
          offer(run + 2, run - 1, RemoveSoftHyphens(Sub(pos, run - 1)));
        }
      }
    }
    if (word > 0) offer(word, word, RemoveSoftHyphens(Sub(pos, word)));  // {WORD}
    if (const size_t m = MatchApoword(s, pos)) offer(m, m, Sub(pos, m));
    // {APOWORD2}/[:letter:]
    if (Lower(c0) == 'y' && IsApos(at(pos + 1)) && IsUnicodeLetter(at(pos + 2))) {
      offer(3, 2, Sub(pos, 2));
    }
    if (const size_t m = MatchFullUrl(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchLikelyUrl(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchEmail(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchTwitter(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t r = MatchRedaux(s, pos)) {  // {REDAUX}/[^A-Za-z]
      if (pos + r < n && !IsAsciiLetter(s[pos + r])) {
        offer(r + 1, r, LatexQuotes(Sub(pos, r), false));
      }
    }
    if (MatchSredaux(s, pos) && pos + 3 < n && !IsAsciiLetter(s[pos + 3])) {  // {SREDAUX}/[^A-Za-z]
      offer(4, 3, LatexQuotes(Sub(pos, 3), false));
    }
    if (const size_t m = MatchDate(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchNumber(s, pos)) offer(m, m, RemoveSoftHyphens(Sub(pos, m)));
    if (const size_t m = MatchSubSupNum(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchFrac(s, pos)) offer(m, m, nbsp(Sub(pos, m)));
    // FRAC2 (normalizeFractions, no escaping)
    if (c0 == 0xBC) offer(1, 1, U"1/4");
    if (c0 == 0xBD) offer(1, 1, U"1/2");
    if (c0 == 0xBE) offer(1, 1, U"3/4");
    if (c0 == 0x2153) offer(1, 1, U"1/3");
    if (c0 == 0x2154) offer(1, 1, U"2/3");
    if (c0 >= 0x2155 && c0 <= 0x215E) offer(1, 1, Sub(pos, 1));
    // TBSPEC
    if (const size_t m =
            MatchAnyLiteral(s, pos,
                            {"-rrb-", "-lrb-", "-rcb-", "-lcb-", "-rsb-", "-lsb-", "c.d.s", "pro-",
                             "anti-", "s&p-500", "s&amp;p-500", "s&ls", "s&amp;ls", "cap'n",
                             "cap\u2019n", "c'est", "c\u2019est"})) {
      U32 txt = Sub(pos, m);
      const size_t amp = txt.find(U"&amp;");
      if (amp != U32::npos) txt.replace(amp, 5, U"&");
      offer(m, m, txt);
    }
    if (const size_t m = MatchThing3(s, pos)) offer(m, m, Sub(pos, m));
    {  // DOLSIGN = ([A-Z]*\$|#)
      const size_t upper = RunLength(s, pos, IsAsciiUpper);
      if (at(pos + upper) == '$') offer(upper + 1, upper + 1, Sub(pos, upper + 1));
      if (c0 == '#') offer(1, 1, U"#");
    }
    // DOLSIGN2 (normalizeCurrency)
    if (c0 == 0xA2) offer(1, 1, U"cents");
    if (c0 == 0xA3) offer(1, 1, U"#");
    if (c0 == 0x80 || c0 == 0xA4 || c0 == 0x20A0 || c0 == 0x20AC) offer(1, 1, U"$");
    if (c0 == 0xA5 || c0 == 0x60B || c0 == 0xE3F || c0 == 0x20A4 || c0 == 0xFFE0 || c0 == 0xFFE1 ||
        c0 == 0xFFE5 || c0 == 0xFFE6) {
      offer(1, 1, Sub(pos, 1));
    }
    // {ACRONYM}/({SPACENLS})(sentence starter|{SGML}){SPACENL}
    {
      size_t j = pos;
      if (IsAsciiLetter(at(j))) {
        // Every acronym prefix followed by '.' is an ACRONYM candidate.
        std::vector<size_t> lengths;
        ++j;
        while (true) {
          if (at(j) == '.') lengths.push_back(j + 1 - pos);
          if (at(j) == '.' && IsAsciiLetter(at(j + 1))) {
            j += 2;
          } else {
            break;
          }
        }
        const size_t compound = MatchAcroCompound(s, pos);
        if (compound > 0 && at(pos + compound) == '.') lengths.push_back(compound + 1);
        for (size_t len : lengths) {
          const size_t spaces = RunLength(s, pos + len, IsSpaceNl);
          if (spaces == 0) continue;
          const size_t start = pos + len + spaces;
          const size_t m = MatchSentenceStarter(s, start);
          if (m > 0 && IsSpaceNl(at(start + m))) {
            if (len == 2) {
              offer(len + spaces + m + 1, 1, Sub(pos, 1));  // "I." -> "I" then "."
            } else {
              offer(len + spaces + m + 1, len - 1, Sub(pos, len));  // "U.S." then "." again
            }
          }
        }
      }
    }
    if (const size_t m = MatchAbbrev3(s, pos)) {  // {ABBREV3}/{SPACENL}?[:digit:]
      if (IsDigit(at(pos + m))) offer(m + 1, m, Sub(pos, m));
      if (IsSpaceNl(at(pos + m)) && IsDigit(at(pos + m + 1))) offer(m + 2, m, Sub(pos, m));
    }
    // (pt[eyEY]|co)\./{SPACE}(ltd|lim)
    if (const size_t m = MatchAnyLiteral(s, pos, {"pt=e.", "pt=y.", "pt=E.", "pt=Y.", "co."})) {
      if (IsSpace(at(pos + m)) && MatchAnyLiteral(s, pos + m + 1, {"ltd", "lim"})) {
        offer(m + 4, m, Sub(pos, m));
      }
    }
    if (const size_t m = MatchAbbrev1(s, pos)) {
      // {ABBREV1}/{SENTEND}: SENTEND = {SPACENL}({SPACENL}|[:uppercase:]|{SGML})
      if (IsSpaceNl(at(pos + m))) {
        const char32_t next = at(pos + m + 1);
        if (IsSpaceNl(next) || IsUnicodeUpper(next)) offer(m + 2, m - 1, Sub(pos, m));
        if (const size_t sgml = MatchSgml(s, pos + m + 1)) offer(m + 1 + sgml, m - 1, Sub(pos, m));
      }
      if (pos + m + 2 <= n) offer(m + 2, m, Sub(pos, m));  // {ABBREV1}/[^][^]
      offer(m, m - 1, Sub(pos, m));                        // {ABBREV1} near the end
    }
    if (const size_t m = MatchAbbrev2(s, pos)) offer(m, m, Sub(pos, m));
    if (const size_t m = MatchAbbrev4(s, pos)) {  // {ABBREV4}/{SPACE}
      if (IsSpace(at(pos + m))) offer(m + 1, m, Sub(pos, m));
    }
    if (const size_t m = MatchAcro(s, pos)) {  // {ACRO}/{SPACENL}
      if (IsSpaceNl(at(pos + m))) offer(m + 1, m, Sub(pos, m));
    }
    // {TBSPEC2}/{SPACENL}: '90
    if (IsApos(c0) && IsAsciiDigit(at(pos + 1)) && IsAsciiDigit(at(pos + 2)) &&
        IsSpaceNl(at(pos + 3))) {
      offer(4, 3, Sub(pos, 3));
    }
    if (const size_t m = MatchFilename(s, pos)) offer(m + 1, m, Sub(pos, m));
    if (word > 0 && at(pos + word) == '.' && is_insentp(at(pos + word + 1))) {
      offer(word + 2, word + 1, RemoveSoftHyphens(Sub(pos, word + 1)));  // {WORD}\./{INSENTP}
    }
    if (const size_t m = MatchPhone(s, pos)) offer(m, m, replace_parens(nbsp(Sub(pos, m))));
    if (c0 == '"' || MatchLiteral(s, pos, "&quot;")) {  // DBLQUOT
      const size_t m = c0 == '"' ? 1 : 6;
      const char32_t next = at(pos + m);
      if (IsAsciiLetter(next) || IsAsciiDigit(next) || next == '$') offer(m + 1, m, U"``");
      offer(m, m, U"''");
    }
    if (c0 == '<') offer(1, 1, U"<");
    if (MatchLiteral(s, pos, "&lt;")) offer(4, 4, U"<");
    if (c0 == '>') offer(1, 1, U">");
    if (MatchLiteral(s, pos, "&gt;")) offer(4, 4, U">");
    if (const size_t m = MatchSmiley(s, pos)) offer(m + 1, m, replace_parens(Sub(pos, m)));
    if (const size_t m = MatchAsianSmiley(s, pos)) offer(m, m, replace_parens(Sub(pos, m)));
    if (c0 == '{') offer(1, 1, U"-LCB-");
    if (c0 == '}') offer(1, 1, U"-RCB-");
    if (c0 == '[') offer(1, 1, U"-LSB-");
    if (c0 == ']') offer(1, 1, U"-RSB-");
    if (c0 == '(') offer(1, 1, U"-LRB-");
    if (c0 == ')') offer(1, 1, U"-RRB-");
    if (c0 == '-') {  // HYPHENS: 3-4 hyphens become the PTB dash "--"
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '-'; });
      offer(m, m, (m >= 3 && m <= 4) ? U"--" : Sub(pos, m));
    }
    {  // LDOTS = \.{3,5}|(\.[ \u00A0]){2,4}\.|[\u0085\u2026]
      const size_t dots =
          std::min<size_t>(RunLength(s, pos, [](char32_t c) { return c == '.'; }), 5);
      if (dots >= 3) offer(dots, dots, U"...");
      for (size_t pairs = 4; pairs >= 2; --pairs) {
        bool ok = true;
        for (size_t k = 0; k < pairs && ok; ++k) {
          ok =
              at(pos + 2 * k) == '.' && (at(pos + 2 * k + 1) == ' ' || at(pos + 2 * k + 1) == 0xA0);
        }
        if (ok && at(pos + 2 * pairs) == '.') {
          offer(2 * pairs + 1, 2 * pairs + 1, U"...");
          break;
        }
      }
      if (c0 == 0x85 || c0 == 0x2026) offer(1, 1, U"...");
    }
    for (char32_t mark : {U'@', U'#', U'_'}) {  // FNMARKS
      if (c0 == mark) {
        const size_t m = RunLength(s, pos, [mark](char32_t c) { return c == mark; });
        offer(m, m, Sub(pos, m));
      }
    }
    if (c0 == '*') {  // ASTS = \*+|(\\\*){1,3}
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '*'; });
      offer(m, m, Sub(pos, m));
    }
    if (c0 == '\\' && at(pos + 1) == '*') {
      size_t k = 0;
      while (k < 3 && at(pos + 2 * k) == '\\' && at(pos + 2 * k + 1) == '*') ++k;
      offer(2 * k, 2 * k, Sub(pos, 2 * k));
    }
    if (is_insentp(c0)) offer(1, 1, Sub(pos, 1));
    if (c0 == '?' || c0 == '!') {
      const size_t m = RunLength(s, pos, [](char32_t c) { return c == '?' || c == '!'; });
      offer(m, m, Sub(pos, m));
    }
    if (c0 == '.' || c0 == 0xA1 || c0 == 0xBF || c0 == 0x37E || c0 == 0x589 || c0 == 0x61F ||
        c0 == 0x6D4 || (c0 >= 0x700 && c0 <= 0x702) || c0 == 0x7FA || c0 == 0x3002) {
      offer(1, 1, Sub(pos, 1));
    }
    if (c0 == '=') offer(1, 1, U"=");
    if (c0 == '/') offer(1, 1, U"/");
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
      for (size_t amp = txt.find(U"&amp;"); amp != U32::npos; amp = txt.find(U"&amp;")) {
        txt.replace(amp, 5, U"&");
      }
      if (at(pos + m) == '.' && is_insentp(at(pos + m + 1))) offer(m + 2, m + 1, txt + U".");
      offer(m, m, txt);
    }
    // '/[A-Za-z][^ \t\n\r\u00A0]: probably an opening quote.
    if (c0 == '\'' && IsAsciiLetter(at(pos + 1)) && pos + 2 < n) {
      const char32_t c = s[pos + 2];
      if (!(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0)) offer(3, 1, U"`");
    }
    if (const size_t r = MatchRedaux(s, pos)) offer(r, r, LatexQuotes(Sub(pos, r), false));
    if (MatchSredaux(s, pos)) offer(3, 3, LatexQuotes(Sub(pos, 3), false));
    {  // QUOTES = {APOS}|''|[quote chars]{1,2}
      if (IsApos(c0)) offer(1, 1, LatexQuotes(Sub(pos, 1), false));
      if (c0 == '\'' && at(pos + 1) == '\'') offer(2, 2, U"''");
      if (MatchLiteral(s, pos, "&apos;")) offer(6, 6, U"'");
      if (IsQuoteChar(c0)) {
        const size_t m = IsQuoteChar(at(pos + 1)) ? 2 : 1;
        offer(m, m, LatexQuotes(Sub(pos, m), false));
      }
    }
    if ((c0 == '<' && at(pos + 1) == '<') || (c0 == '>' && at(pos + 1) == '>')) {
      offer(2, 2, Sub(pos, 2));
    }
    if (IsMiscSymbol(c0)) offer(1, 1, Sub(pos, 1));
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

std::vector<std::vector<std::string>> PtbTokenizeLines(const std::vector<std::string>& lines) {
  std::u32string text;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) text.push_back('\n');
    for (char32_t c : DecodeUtf8(lines[i])) text.push_back(c == '\n' ? U' ' : c);
  }
  std::vector<std::vector<std::string>> out;
  for (const auto& line : ptb::Lexer(text).Run()) {
    out.emplace_back();
    for (const std::u32string& token : line) {
      std::string utf8;
      for (char32_t c : token) AppendUtf8(ToLowerCodePoint(c), &utf8);
      out.back().push_back(std::move(utf8));
    }
  }
  out.resize(lines.size());  // no lines in, no lines out
  return out;
}

std::vector<std::string> PtbTokenize(const std::string& line) {
  return PtbTokenizeLines({line})[0];
}

bool IsCocoPunctuation(const std::string& token) {
  for (std::string_view p : kCocoPunctuation) {
    if (token == p) return true;
  }
  return false;
}

std::vector<std::string> CocoTokenizeBatch(const std::vector<std::string>& captions) {
  std::vector<std::string> out;
  for (const std::vector<std::string>& tokens : PtbTokenizeLines(captions)) {
    std::string line;
    for (const std::string& token : tokens) {
      if (IsCocoPunctuation(token)) continue;
      if (!line.empty()) line.push_back(' ');
      line += token;
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string CocoTokenize(const std::string& caption) { return CocoTokenizeBatch({caption})[0]; }

}  // namespace lmeye::eval
