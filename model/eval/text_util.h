// Unicode helpers shared by the tokenisers and normalisers of the evaluation library. The
// reference tools are Java (PTBTokenizer, Meteor) and Python (vqaEval, pycocoevalcap); they work on
// code points, so these helpers decode UTF-8 to code points, classify and re-encode them.
// Invalid UTF-8 bytes decode to U+FFFD. All functions are pure and thread-safe.
#pragma once

#include <string>
#include <vector>

namespace lmeye::eval {

std::u32string DecodeUtf8(const std::string& text);
std::string EncodeUtf8(const std::u32string& text);
void AppendUtf8(char32_t c, std::string* out);

// Lower-case mapping of Latin (incl. Latin-1 and Extended-A/B), Greek and Cyrillic letters; every
// other code point maps to itself. Enough for English evaluation text.
char32_t ToLowerCodePoint(char32_t c);
std::string ToLowerUtf8(const std::string& text);

// ASCII-only classes (Java regex \p{Digit}, \p{Lower}; JFlex [A-Za-z]).
inline bool IsAsciiDigit(char32_t c) { return c >= '0' && c <= '9'; }
inline bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsAsciiUpper(char32_t c) { return c >= 'A' && c <= 'Z'; }
inline bool IsAsciiLower(char32_t c) { return c >= 'a' && c <= 'z'; }

// Approximates Java Character.isLetter: ASCII and Latin-1 letters, and code points of the
// alphabetic blocks (Latin extended, Greek, Cyrillic, ..., CJK); symbols and punctuation blocks are
// excluded.
bool IsUnicodeLetter(char32_t c);
bool IsUnicodeUpper(char32_t c);

// Python str.split() / str.strip() whitespace (Unicode White_Space plus \x1c-\x1f).
bool IsPythonSpace(char32_t c);
// Python str.split() with no argument: splits on runs of whitespace, drops empty fields.
std::vector<std::string> SplitPythonWhitespace(const std::string& text);
// Python str.strip() with no argument.
std::string StripPython(const std::string& text);
// Python str.split(" "): splits on every single space, keeps empty fields.
std::vector<std::string> SplitOnSpace(const std::string& text);

}  // namespace lmeye::eval
