// PTB tokenisation as the COCO caption toolkit applies it: Stanford PTBTokenizer (CoreNLP 3.4.1)
// with -preserveLines -lowerCase, then the toolkit's punctuation tokens are dropped
// ('' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;). Because -lowerCase turns brackets into
// -lrb-/-rrb-/-lsb-..., which are not in that list, they survive, as do $ % & @ ?! !!.
//
// The tokenizer re-implements the JFlex lexer's longest-match rules that matter for English
// captions and answers: words, n't / 's / 're... splitting, assimilations (cannot, gonna, gotta,
// wanna, lemme, gimme), numbers, fractions, hyphenated words, acronyms and common abbreviations,
// URLs/e-mails, SGML tags, LaTeX-style quotes, -LRB- style brackets, PTB dashes and ellipses,
// '/' and '*' escaping. Not re-implemented: Americanize (British spellings are kept), phone
// numbers, and SGML character entities other than &amp; &quot; &apos; &lt; &gt;.
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <vector>

namespace lmeye::eval {

// PTBTokenizer -preserveLines -lowerCase on one line ('\n' already replaced by ' ').
std::vector<std::string> PtbTokenize(const std::string& line);

// True for the tokens the COCO toolkit drops after tokenising.
bool IsCocoPunctuation(const std::string& token);

// The COCO toolkit's full preprocessing of one caption: '\n' -> ' ', PtbTokenize, drop
// punctuation tokens, join with single spaces.
std::string CocoTokenize(const std::string& caption);

}  // namespace lmeye::eval
