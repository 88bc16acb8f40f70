#include "model/eval/ptb_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include "absl/strings/str_join.h"
#include "tests/common/test_data.h"
#include "tests/eval/fixture_cases.h"

namespace lmeye::eval {
namespace {

using testing::MetricCases;

TEST(EvalPtbTokenizerTest, FixtureTokenizerCases) {
  const auto& cases = MetricCases()["ptb_tokenizer_cases"];
  ASSERT_EQ(cases.size(), 10u);
  for (const auto& c : cases) {
    const std::string input = c["input"];
    EXPECT_EQ(absl::StrJoin(PtbTokenize(input), " "), c["ptb_lowercased"].get<std::string>())
        << input;
    EXPECT_EQ(CocoTokenize(input), c["after_punct_removal"].get<std::string>()) << input;
  }
}

TEST(EvalPtbTokenizerTest, FixtureCaptionStrings) {
  int n_strings = 0;
  for (const auto& set : MetricCases()["caption_sets"]) {
    if (!set["ptb_tokenized"].get<bool>()) continue;
    for (const auto& item : set["items"]) {
      EXPECT_EQ(CocoTokenize(item["candidate"]), item["candidate_tokenized"].get<std::string>());
      for (size_t r = 0; r < item["references"].size(); ++r) {
        EXPECT_EQ(CocoTokenize(item["references"][r]),
                  item["references_tokenized"][r].get<std::string>());
      }
      n_strings += 1 + static_cast<int>(item["references"].size());
    }
  }
  EXPECT_EQ(n_strings, 12 * 6 + 8 * 2);
}

// Expected values below were produced by PTBTokenizer built from CoreNLP v3.4.1 (the
// committed JFlex 1.5.1 lexer) with -preserveLines -lowerCase.
TEST(EvalPtbTokenizerTest, CommonEnglishPatterns) {
  auto tok = [](const std::string& s) { return absl::StrJoin(PtbTokenize(s), " "); };
  EXPECT_EQ(tok("They're here, aren't they?"), "they 're here , are n't they ?");
  EXPECT_EQ(tok("Mr. Smith's dog"), "mr. smith 's dog");
  EXPECT_EQ(tok("a 1/2 cup and/or 2 eggs"), "a 1/2 cup and/or 2 eggs");  // no \/ escaping
  EXPECT_EQ(tok("It was 5 o'clock"), "it was 5 o'clock");
  EXPECT_EQ(tok("Wait---what"), "wait -- what");
  EXPECT_EQ(tok("see http://example.com/a."), "see http://example.com/a .");
  EXPECT_EQ(tok("AT&T rocks"), "at&t rocks");
  EXPECT_EQ(tok("colour grey"), "colour grey");  // americanize is off in v3.4.1
  EXPECT_EQ(tok(":) great"), ":-rrb- great");
  EXPECT_EQ(tok("gotta go"), "got ta go");
  EXPECT_EQ(tok(""), "");
}

// The toolkit tokenises all captions as one text, so a line's end sees the next line.
TEST(EvalPtbTokenizerTest, LinesSeeTheNextLine) {
  auto lines = [](const std::vector<std::string>& in) {
    std::vector<std::string> out;
    for (const auto& tokens : PtbTokenizeLines(in)) out.push_back(absl::StrJoin(tokens, " "));
    return out;
  };
  // An abbreviation before a capitalised line start also yields a sentence-final period.
  EXPECT_EQ(lines({"He works at Apple Inc.", "The end"}),
            (std::vector<std::string>{"he works at apple inc. .", "the end"}));
  EXPECT_EQ(lines({"He works at Apple Inc.", "the end"}),
            (std::vector<std::string>{"he works at apple inc.", "the end"}));
  // "'ll" is split off only when something (here the newline) follows it.
  EXPECT_EQ(lines({"I think she'll", "go"}), (std::vector<std::string>{"i think she 'll", "go"}));
  EXPECT_EQ(lines({"I think she'll"}), (std::vector<std::string>{"i think she ` ll"}));
  EXPECT_EQ(CocoTokenizeBatch({"A dog.", "Two cats!"}),
            (std::vector<std::string>{"a dog", "two cats"}));
  EXPECT_TRUE(PtbTokenizeLines({}).empty());
}

// A batch is one text and every word start tries the hyphenated-word pattern: its work must
// not grow with the size of the whole batch (it allocated a table of the batch's length at every
// word, which made scoring a dataset quadratic: ~360 GB of memset for these 10,000 captions, and
// no end in sight under AddressSanitizer). Linear, they take ~2 s here, ~20 s under
// AddressSanitizer on a loaded 2-core machine; the bound leaves room for that.
TEST(EvalPtbTokenizerTest, LargeBatchIsNotQuadratic) {
  std::vector<std::string> captions(10000, "A well-known dog runs on the grass-covered hill.");
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<std::string>> tokens = PtbTokenizeLines(captions);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(tokens.size(), captions.size());
  EXPECT_EQ(absl::StrJoin(tokens.back(), " "), "a well-known dog runs on the grass-covered hill .");
  EXPECT_LT(seconds, 60.0);
}

// 611 random lines over tricky pieces (abbreviations, contractions, URLs, smileys, quotes, Unicode)
// and the output of the real v3.4.1 tokenizer on them as one text (tests/data/metrics).
TEST(EvalPtbTokenizerTest, MatchesCoreNlp341OnRandomLines) {
  std::ifstream in(lmeye::testing::TestData("metrics/ptb_v341_golden.json"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const nlohmann::json golden = nlohmann::json::parse(buffer.str());
  const auto lines = golden["lines"].get<std::vector<std::string>>();
  const auto expected = golden["ptb_lowercased"].get<std::vector<std::string>>();
  const auto tokens = PtbTokenizeLines(lines);
  ASSERT_EQ(tokens.size(), expected.size());
  int mismatches = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string got = absl::StrJoin(tokens[i], " ");
    if (got != expected[i]) ++mismatches;
    EXPECT_EQ(got, expected[i]) << "line " << i << ": " << lines[i];
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace lmeye::eval
