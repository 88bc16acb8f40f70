// The hand-written split regexes, the Unicode tables behind them, and the byte-level alphabet.
#include "model/tokenizer/pretokenizer.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer/byte_level.h"
#include "model/tokenizer/unicode_tables.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Gpt2(const std::string& text) {
  std::vector<absl::string_view> words;
  SplitGpt2(text, &words);
  return std::vector<std::string>(words.begin(), words.end());
}

std::vector<std::string> Bloom(const std::string& text) {
  std::vector<absl::string_view> words;
  SplitBloom(text, &words);
  return std::vector<std::string>(words.begin(), words.end());
}

TEST(UnicodeTablesTest, Classes) {
  EXPECT_STREQ(UnicodeVersion(), "14.0.0");
  EXPECT_EQ(ClassifyCodepoint('a'), CharClass::kLetter);
  EXPECT_EQ(ClassifyCodepoint(0xE9), CharClass::kLetter);     // é
  EXPECT_EQ(ClassifyCodepoint(0x4E2D), CharClass::kLetter);   // 中
  EXPECT_EQ(ClassifyCodepoint(0x1D400), CharClass::kLetter);  // 𝐀, above the BMP
  EXPECT_EQ(ClassifyCodepoint('7'), CharClass::kNumber);
  EXPECT_EQ(ClassifyCodepoint(0xBD), CharClass::kNumber);    // ½ (No)
  EXPECT_EQ(ClassifyCodepoint(0x663), CharClass::kNumber);   // ٣ (Nd)
  EXPECT_EQ(ClassifyCodepoint(0x2167), CharClass::kNumber);  // Ⅷ (Nl)
  EXPECT_EQ(ClassifyCodepoint(' '), CharClass::kWhiteSpace);
  EXPECT_EQ(ClassifyCodepoint('\n'), CharClass::kWhiteSpace);
  EXPECT_EQ(ClassifyCodepoint(0xA0), CharClass::kWhiteSpace);
  EXPECT_EQ(ClassifyCodepoint(0x3000), CharClass::kWhiteSpace);
  EXPECT_EQ(ClassifyCodepoint(0x200B), CharClass::kOther);  // zero width space: not White_Space
  EXPECT_EQ(ClassifyCodepoint('!'), CharClass::kOther);
  EXPECT_EQ(ClassifyCodepoint(0x1F999), CharClass::kOther);  // 🦙
  EXPECT_EQ(ClassifyCodepoint(0x110000), CharClass::kOther);
}

TEST(Gpt2SplitTest, Words) {
  EXPECT_THAT(Gpt2("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Gpt2("it's I'll we've"), ElementsAre("it", "'s", " I", "'ll", " we", "'ve"));
  EXPECT_THAT(Gpt2("abc123 x"), ElementsAre("abc", "123", " x"));
  EXPECT_THAT(Gpt2("Hello, world!!"), ElementsAre("Hello", ",", " world", "!!"));
  EXPECT_THAT(Gpt2(" 's"), ElementsAre(" '", "s"));  // contractions do not take a space
  EXPECT_THAT(Gpt2("'S"), ElementsAre("'", "S"));    // and are case-sensitive
}

TEST(Gpt2SplitTest, WhiteSpaceBacktracking) {
  // \s+(?!\S) leaves the last space to the following word.
  EXPECT_THAT(Gpt2("  Hello"), ElementsAre(" ", " Hello"));
  EXPECT_THAT(Gpt2("a   b"), ElementsAre("a", "  ", " b"));
  EXPECT_THAT(Gpt2("\n ="), ElementsAre("\n", " ="));
  EXPECT_THAT(Gpt2("\nx"), ElementsAre("\n", "x"));  // \s+ takes a lone newline
  EXPECT_THAT(Gpt2("x  "), ElementsAre("x", "  "));  // trailing run kept whole
  EXPECT_THAT(Gpt2("\t\n"), ElementsAre("\t\n"));
  EXPECT_THAT(Gpt2("a\u00a0b"), ElementsAre("a", "\u00a0", "b"));  // only U+0020 prefixes words
}

TEST(Gpt2SplitTest, InvalidUtf8PassesThrough) {
  const std::string text = "a\xff\xfe b";
  EXPECT_THAT(Gpt2(text), ElementsAre("a", "\xff\xfe", " b"));
}

TEST(Gpt2SplitTest, ConcatenatesBack) {
  const std::string text = "  x\t\t y 12é ½\r\n\n 🦙🦙 it's\u3000z ";
  std::string joined;
  for (const auto& w : Gpt2(text)) joined += w;
  EXPECT_EQ(joined, text);
}

TEST(BloomSplitTest, Words) {
  EXPECT_THAT(Bloom("Hello world"), ElementsAre("Hello", " world"));
  // Letters, digits and most punctuation stay together; only white space and .,!?…。，、।۔،()|
  // separate.
  EXPECT_THAT(Bloom("abc123 don't a-b"), ElementsAre("abc123", " don't", " a-b"));
  EXPECT_THAT(Bloom("Hello, world!"), ElementsAre("Hello", ",", " world", "!"));
  EXPECT_THAT(Bloom("f(x)|y"), ElementsAre("f", "(", "x", ")|", "y"));
  EXPECT_THAT(Bloom("a  b"), ElementsAre("a", " ", " b"));
  EXPECT_THAT(Bloom("a...b"), ElementsAre("a", "...", "b"));
  EXPECT_THAT(Bloom("你好。世界"), ElementsAre("你好", "。", "世界"));
  EXPECT_THAT(Bloom("  "), ElementsAre("  "));
  EXPECT_THAT(Bloom("a\n"), ElementsAre("a", "\n"));
  EXPECT_THAT(Bloom("[x]"), ElementsAre("[x]"));  // brackets are not in the excluded set
}

TEST(PreTokenizerTest, SequenceAndPrefixSpace) {
  PreTokenizer both({SplitRule::kBloom, SplitRule::kGpt2}, /*add_prefix_space=*/true);
  std::string storage;
  std::vector<absl::string_view> words;
  both.Split("abc123,x", &storage, &words);
  EXPECT_THAT(words, ElementsAre(" abc", "123", ",", "x"));
  PreTokenizer none({}, false);
  none.Split("a b", &storage, &words);
  EXPECT_THAT(words, ElementsAre("a b"));
  none.Split("", &storage, &words);
  EXPECT_TRUE(words.empty());
}

TEST(PreTokenizerTest, KnownRegexes) {
  EXPECT_EQ(SplitRuleForRegex(kGpt2SplitRegex), SplitRule::kGpt2);
  EXPECT_EQ(SplitRuleForRegex(" ?[^(\\s|[.,!?…。，、।۔،])]+"), SplitRule::kBloom);
  EXPECT_EQ(SplitRuleForRegex("\\w+"), std::nullopt);
}

TEST(ByteLevelTest, Alphabet) {
  EXPECT_EQ(ByteToUnicode(' '), 0x120u);   // Ġ
  EXPECT_EQ(ByteToUnicode('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(ByteToUnicode('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(ByteToUnicode(0xAD), 0x143u);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(UnicodeToByte(ByteToUnicode(static_cast<uint8_t>(b))), b);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(ByteLevelDecode(ByteLevelEncode(all)), all);
  EXPECT_EQ(ByteLevelEncode(" hi\n"), "\xc4\xa0hi\xc4\x8a");
}

TEST(Utf8Test, ScanAndReplace) {
  EXPECT_EQ(ScanUtf8("\xe2\x82\xac").kind, Utf8Sequence::kComplete);
  EXPECT_EQ(ScanUtf8("\xe2\x82").kind, Utf8Sequence::kIncomplete);
  EXPECT_EQ(ScanUtf8("\xe0\x80\x80").kind, Utf8Sequence::kInvalid);      // overlong
  EXPECT_EQ(ScanUtf8("\xed\xa0\x80").kind, Utf8Sequence::kInvalid);      // surrogate
  EXPECT_EQ(ScanUtf8("\xf4\x90\x80\x80").kind, Utf8Sequence::kInvalid);  // > U+10FFFF
  const std::string fffd = "\xef\xbf\xbd";
  std::string out;
  // Maximal subpart: "E2 82" then 'A' is one U+FFFD (Python's errors="replace").
  EXPECT_EQ(AppendValidUtf8("\xe2\x82"
                            "A",
                            Utf8Replacement::kMaximalSubpart, true, &out),
            3u);
  EXPECT_EQ(out, fffd + "A");
  out.clear();
  AppendValidUtf8(
      "\xe2\x82"
      "A",
      Utf8Replacement::kPerByte, true, &out);
  EXPECT_EQ(out, fffd + fffd + "A");
  out.clear();
  // Not final: an incomplete tail is left for the next token.
  EXPECT_EQ(AppendValidUtf8("ab\xe2\x82", Utf8Replacement::kMaximalSubpart, false, &out), 2u);
  EXPECT_EQ(out, "ab");
}

}  // namespace
}  // namespace lmeye
