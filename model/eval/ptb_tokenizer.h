// PTB tokenisation as the COCO caption toolkit applies it: Stanford PTBTokenizer (CoreNLP v3.4.1,
// default options) with -preserveLines -lowerCase, then the toolkit's punctuation tokens are
// dropped ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;). Because -lowerCase turns
// brackets into -lrb-/-rrb-/-lsb-..., which are not in that list, they survive, as do $ % & @ ?!.
//
// The lexer re-implements PTBLexer.flex v3.4.1's rules and their longest-match / rule-order
// resolution (with trailing contexts counted in the match length, as JFlex does): words (letters,
// digits, inner .!?), n't / 's / 're splitting, assimilations (cannot, gonna, 'tis ...), numbers,
// fractions, dates, phone numbers, hyphenated words, acronyms and the abbreviation lists (with the
// doubled sentence-final period), URLs, e-mails, file names, SGML tags, smileys, LaTeX quotes,
// -LRB- style brackets, PTB dashes and ellipses, currency normalisation. Defaults of v3.4.1:
// British spellings are kept (americanize=false), '/' and '*' are not escaped.
//
// The toolkit tokenises all captions of a call as ONE text, one caption a line, and several rules
// look past the end of a line (an abbreviation followed by a capitalised word on the next line
// gets an extra "." token, "'ll" at a line end needs the newline to be split as 'll). The batch
// functions reproduce that: pass captions in the toolkit's order (for references: every reference
// of item 0, then item 1, ...; candidates separately). The single-caption functions tokenise a
// one-line text, as the toolkit would for a set of one.
// All functions are pure and thread-safe. Known gaps: SGML character entities other than &amp;
// &lt; &gt; &quot; &apos; &nbsp; and &#N; are not decoded; a caption containing a line separator
// other than '\n' (\r, \f, U+2028) stays one line (the toolkit would split it and misalign).
#pragma once

#include <string>
#include <vector>

namespace lmeye::eval {

// PTBTokenizer -preserveLines -lowerCase over the lines joined by '\n' ('\n' inside a line is
// read as a space). Returns one token list per input line.
std::vector<std::vector<std::string>> PtbTokenizeLines(const std::vector<std::string>& lines);
std::vector<std::string> PtbTokenize(const std::string& line);

// True for the tokens the COCO toolkit drops after tokenising.
bool IsCocoPunctuation(const std::string& token);

// The COCO toolkit's full preprocessing (ptbtokenizer.py): '\n' -> ' ', PTB tokens of all
// captions as one text, punctuation tokens dropped, tokens joined with single spaces.
std::vector<std::string> CocoTokenizeBatch(const std::vector<std::string>& captions);
std::string CocoTokenize(const std::string& caption);

}  // namespace lmeye::eval
