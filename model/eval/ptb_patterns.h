// The character classes and token patterns of Stanford PTBLexer.flex (CoreNLP 3.4.1 era) that the
// PTB tokenizer combines by longest match (see ptb_tokenizer.h). Each Match* function returns the
// length of its pattern at `pos` (0 for no match), without trailing context. Internal to the
// evaluation library; pure functions.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace lmeye::eval::ptb {

using U32 = std::u32string;

// Character classes.
bool IsSpace(char32_t c);      // SPACE
bool IsNewline(char32_t c);    // NEWLINE
bool IsSpaceNl(char32_t c);    // SPACENL
bool IsIgnorable(char32_t c);  // whitespace, NUL, zero-width characters, DEL
bool IsLetter(char32_t c);     // LETTER: [:letter:] plus soft hyphen and combining marks
bool IsDigit(char32_t c);
bool IsAlnum(char32_t c);
bool IsApos(char32_t c);     // APOS
bool IsAposEtc(char32_t c);  // APOSETCETERA
bool IsHyphen(char32_t c);   // HYPHEN
bool IsQuoteChar(char32_t c);
bool IsMiscSymbol(char32_t c);  // MISCSYMBOL
char32_t Lower(char32_t c);

// Length of the run of characters satisfying pred from pos.
template <typename Pred>
size_t RunLength(const U32& s, size_t pos, Pred pred) {
  size_t j = pos;
  while (j < s.size() && pred(s[j])) ++j;
  return j - pos;
}

// Case-insensitive literal(s) at pos (the lexer is %caseless outside character classes).
size_t MatchLiteral(const U32& s, size_t pos, std::string_view lit);
size_t MatchAnyLiteral(const U32& s, size_t pos, std::initializer_list<std::string_view> lits);

// Token patterns, named after the lexer's macros.
size_t MatchWord(const U32& s, size_t pos);     // WORD
size_t MatchRedaux(const U32& s, size_t pos);   // REDAUX: 's 'm 'd 're 've 'll
size_t MatchSredaux(const U32& s, size_t pos);  // SREDAUX: n't
size_t MatchNumber(const U32& s, size_t pos);   // NUMBER
size_t MatchFrac(const U32& s, size_t pos);     // FRAC
size_t MatchDate(const U32& s, size_t pos);     // DATE
size_t MatchThing(const U32& s, size_t pos);    // THING
size_t MatchAcro(const U32& s, size_t pos);     // ACRO
size_t MatchHthing(const U32& s, size_t pos);   // HTHING
size_t MatchThing3(const U32& s, size_t pos);   // THING3
size_t MatchThinga(const U32& s, size_t pos);   // THINGA
size_t MatchApoword(const U32& s, size_t pos);  // APOWORD
size_t MatchSgml(const U32& s, size_t pos);     // SGML
size_t MatchUrl(const U32& s, size_t pos);      // FULLURL
size_t MatchEmail(const U32& s, size_t pos);    // EMAIL
size_t MatchAbbrev1(const U32& s, size_t pos);  // ABBREV1 word followed by '.' (length w/o dot)
size_t MatchAbbrev4(const U32& s, size_t pos);  // ABBREV4 (ABBREV2 when followed by '.')
// A capitalised word after which an acronym's period also ends the sentence (length, or 0).
size_t MatchSentenceStarter(const U32& s, size_t pos);

}  // namespace lmeye::eval::ptb
