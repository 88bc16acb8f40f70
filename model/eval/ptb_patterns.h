// The character classes and token patterns of Stanford PTBLexer.flex as of CoreNLP v3.4.1, which
// the PTB tokenizer combines by longest match (see ptb_tokenizer.h). Each Match* function returns
// the length of the longest text its pattern matches at `pos` (0 for no match), without trailing
// context. Internal to the evaluation library; pure functions.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lmeye::eval::ptb {

using U32 = std::u32string;

// Character classes.
bool IsSpace(char32_t c);       // SPACE
bool IsNewline(char32_t c);     // NEWLINE (single characters; \r\n is two)
bool IsSpaceNl(char32_t c);     // SPACENL
bool IsIgnorable(char32_t c);   // whitespace, NUL, zero-width characters, DEL
bool IsLetter(char32_t c);      // LETTER: [:letter:] plus soft hyphen and combining marks
bool IsDigit(char32_t c);       // DIGIT
bool IsApos(char32_t c);        // APOS
bool IsAposEtc(char32_t c);     // APOSETCETERA
bool IsHyphen(char32_t c);      // HYPHEN
bool IsQuoteChar(char32_t c);   // the bracketed class of QUOTES
bool IsMiscSymbol(char32_t c);  // MISCSYMBOL
char32_t Lower(char32_t c);

// Length of the run of characters satisfying pred from pos.
template <typename Pred>
size_t RunLength(const U32& s, size_t pos, Pred pred) {
  size_t j = pos;
  while (j < s.size() && pred(s[j])) ++j;
  return j - pos;
}

// Literal(s) at pos, caseless (the lexer is %caseless outside character classes). In `lit`, a
// character preceded by '=' must match exactly: it stands for a one-character class such as [A].
size_t MatchLiteral(const U32& s, size_t pos, std::string_view lit);
size_t MatchAnyLiteral(const U32& s, size_t pos, std::initializer_list<std::string_view> lits);

// Token patterns, named after the lexer's macros. Where the rule has a trailing context that a
// shorter match could satisfy while the longest does not (noted as PATTERN/context), the function
// returns the longest match whose context holds; the caller adds the context length.
size_t MatchSgml(const U32& s, size_t pos);         // SGML
size_t MatchWord(const U32& s, size_t pos);         // WORD
size_t MatchRedaux(const U32& s, size_t pos);       // REDAUX: 's 'm 'd 're 've 'll
size_t MatchSredaux(const U32& s, size_t pos);      // SREDAUX: n't
size_t MatchApoword(const U32& s, size_t pos);      // APOWORD
size_t MatchFullUrl(const U32& s, size_t pos);      // FULLURL
size_t MatchLikelyUrl(const U32& s, size_t pos);    // LIKELYURL
size_t MatchEmail(const U32& s, size_t pos);        // EMAIL
size_t MatchTwitter(const U32& s, size_t pos);      // TWITTER
size_t MatchDate(const U32& s, size_t pos);         // DATE
size_t MatchNumber(const U32& s, size_t pos);       // NUMBER
size_t MatchSubSupNum(const U32& s, size_t pos);    // SUBSUPNUM
size_t MatchFrac(const U32& s, size_t pos);         // FRAC
size_t MatchThing3(const U32& s, size_t pos);       // THING3
size_t MatchFilename(const U32& s, size_t pos);     // FILENAME
size_t MatchPhone(const U32& s, size_t pos);        // PHONE
size_t MatchSmiley(const U32& s, size_t pos);       // SMILEY
size_t MatchAsianSmiley(const U32& s, size_t pos);  // ASIANSMILEY
size_t MatchHthing(const U32& s, size_t pos);       // HTHING
size_t MatchThing(const U32& s, size_t pos);        // THING
size_t MatchThinga(const U32& s, size_t pos);       // THINGA

}  // namespace lmeye::eval::ptb
