// The abbreviation and acronym patterns of Stanford PTBLexer.flex v3.4.1 (ABBREV1-4, ACRO and the
// words after which an acronym's period also ends a sentence): the lists the lexer was built with,
// matched caselessly except where the lexer uses one-character classes such as [A]. Same contract
// as ptb_patterns.h: lengths at `pos`, 0 for no match; internal; pure functions.
#pragma once

#include <cstddef>
#include <string>

namespace lmeye::eval::ptb {

using U32 = std::u32string;

size_t MatchAcro(const U32& s, size_t pos);          // ACRO (one letter or more)
size_t MatchAcroCompound(const U32& s, size_t pos);  // ACRO's non-U.S / U.S.-U.K alternatives
size_t MatchAbbrev1(const U32& s, size_t pos);       // ABBREV1 including its '.'
size_t MatchAbbrev2(const U32& s, size_t pos);       // ABBREV2 = ABBREV4 '.'
size_t MatchAbbrev3(const U32& s, size_t pos);       // ABBREV3 including its '.'
size_t MatchAbbrev4(const U32& s, size_t pos);       // ABBREV4
// A word after which an acronym's period also ends the sentence, or an SGML tag (length, or 0).
size_t MatchSentenceStarter(const U32& s, size_t pos);

}  // namespace lmeye::eval::ptb
