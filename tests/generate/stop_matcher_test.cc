// Stop strings on text: the StopMatcher alone on hand-made deltas, then GenerationStream with
// the real GPT-2 tokenizer, where stop strings span several tokens and characters span several
// tokens. Also EOS, max_new_tokens and early Finish.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/generate/generation_stream.h"
#include "model/generate/stop_matcher.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n;
  }
  return true;
}

TEST(GenerateStopMatcherTest, HoldsBackPossibleStartsAndCutsTheStop) {
  StopMatcher m({"\n\nHuman:"});
  EXPECT_EQ(m.Push("Hello"), "Hello");
  EXPECT_EQ(m.Push(" there\n"), " there");  // "\n" could start the stop string
  EXPECT_EQ(m.held_bytes(), 1u);
  EXPECT_EQ(m.Push("\nHu"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.Push("man: more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "\n\nHuman:");
  EXPECT_EQ(m.Push("ignored"), "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(GenerateStopMatcherTest, ReleasesHeldTextWhenItDiverges) {
  StopMatcher m({"\n\nHuman:"});
  std::string out = m.Push("a\n\nHu");
  EXPECT_EQ(out, "a");
  out += m.Push("manity");
  EXPECT_EQ(out, "a\n\nHumanity");
  EXPECT_FALSE(m.stopped());
  // A late partial prefix is released by Flush at the end.
  out += m.Push("\n");
  out += m.Flush();
  EXPECT_EQ(out, "a\n\nHumanity\n");
}

TEST(GenerateStopMatcherTest, EarliestOfSeveralStopsWins) {
  StopMatcher m({"world", "lo w", "x"});
  EXPECT_EQ(m.Push("hello world"), "hel");
  EXPECT_EQ(m.matched(), "lo w");
}

TEST(GenerateStopMatcherTest, StopInsideOneDeltaAndNoStops) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.Push("abcENDdef"), "abc");
  EXPECT_TRUE(m.stopped());
  StopMatcher none({});
  EXPECT_EQ(none.Push("abc"), "abc");
  EXPECT_EQ(none.held_bytes(), 0u);
}

TEST(GenerateStopMatcherTest, OverlappingPrefixes) {
  // "aab" after "aa" + "aab": the held "aa" must not hide the match starting one byte later.
  StopMatcher m({"aab"});
  std::string out = m.Push("xaa");
  out += m.Push("aab");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(out, "xaa");
}

class GenerateStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tok = LoadBpeTokenizer(TestData("tokenizers/gpt2/encoder.json"),
                                TestData("tokenizers/gpt2/vocab.bpe"));
    ASSERT_TRUE(tok.ok()) << tok.status();
    tokenizer_ = std::move(*tok);
  }

  std::vector<int64_t> Ids(const std::string& text) {
    auto ids = tokenizer_->Encode(text);
    EXPECT_TRUE(ids.ok()) << ids.status();
    return std::vector<int64_t>(ids->begin(), ids->end());
  }

  // Feeds `ids` as if sampled; returns the deltas streamed, stopping when finished.
  std::vector<std::string> Feed(GenerationStream& stream, const std::vector<int64_t>& ids) {
    std::vector<std::string> deltas;
    for (int64_t id : ids) {
      auto step = stream.Accept({id, -1.0f});
      EXPECT_TRUE(step.ok()) << step.status();
      if (!step.ok()) break;
      if (!step->text.empty()) deltas.push_back(step->text);
      if (step->finished) break;
    }
    return deltas;
  }

  std::unique_ptr<GenerationStream> Stream(const SamplingParams& p) {
    auto s = GenerationStream::Create(p, tokenizer_.get(), {});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(GenerateStreamTest, StopStringSplitAcrossTokens) {
  std::vector<int64_t> ids = Ids("Hello world.\n\nHuman: what next?");
  SamplingParams p;
  p.max_new_tokens = 100;
  p.stop = {"\n\nHuman:"};
  auto stream = Stream(p);
  // The stop string is several tokens: the test means something.
  ASSERT_GE(Ids("\n\nHuman:").size(), 2u);
  std::vector<std::string> deltas = Feed(*stream, ids);
  EXPECT_TRUE(stream->finished());
  EXPECT_EQ(stream->finish_reason(), FinishReason::kStop);
  EXPECT_EQ(stream->text(), "Hello world.");
  for (const std::string& d : deltas) EXPECT_EQ(d.find('\n'), std::string::npos) << d;
  // Generation ended at the token completing the stop string, not later.
  EXPECT_LT(stream->n_generated_tokens(), static_cast<int>(ids.size()));
}

TEST_F(GenerateStreamTest, StopStringInsideOneToken) {
  SamplingParams p;
  p.stop = {"orl"};
  auto stream = Stream(p);
  Feed(*stream, Ids("Hello world again"));
  EXPECT_EQ(stream->text(), "Hello w");
  EXPECT_EQ(stream->finish_reason(), FinishReason::kStop);
}

TEST_F(GenerateStreamTest, MultiByteCharactersAreNeverSplit) {
  const std::string text = "I like 🦙s and naïve café — 日本語!";
  std::vector<int64_t> ids = Ids(text);
  SamplingParams p;
  p.max_new_tokens = 200;
  p.stop = {"zzz"};
  auto stream = Stream(p);
  std::vector<std::string> deltas = Feed(*stream, ids);
  std::string joined;
  for (const std::string& d : deltas) {
    EXPECT_TRUE(ValidUtf8(d)) << "delta splits a character";
    joined += d;
  }
  EXPECT_FALSE(stream->finished());
  joined += stream->Finish(FinishReason::kLength);
  EXPECT_EQ(joined, text);
  EXPECT_EQ(stream->text(), text);
  // The llama emoji alone takes several tokens.
  EXPECT_GE(Ids("🦙").size(), 2u);
}

TEST_F(GenerateStreamTest, MultiByteStopString) {
  SamplingParams p;
  p.stop = {"🦙"};
  auto stream = Stream(p);
  Feed(*stream, Ids("I like 🦙s"));
  EXPECT_EQ(stream->text(), "I like ");
  EXPECT_EQ(stream->finish_reason(), FinishReason::kStop);
}

TEST_F(GenerateStreamTest, EosEndsWithoutText) {
  SamplingParams p;
  p.eos_token_ids = {tokenizer_->eos_id()};
  p.stop = {"\n\n"};
  auto stream = Stream(p);
  std::vector<int64_t> ids = Ids("Done\n");
  ids.push_back(tokenizer_->eos_id());
  ids.push_back(Ids("x")[0]);
  Feed(*stream, ids);
  EXPECT_EQ(stream->finish_reason(), FinishReason::kEos);
  // The held "\n" is released at the end: it was not a stop string.
  EXPECT_EQ(stream->text(), "Done\n");
  EXPECT_EQ(stream->n_generated_tokens(), static_cast<int>(ids.size()) - 1);  // EOS counted
  EXPECT_FALSE(stream->Accept({1, 0.0f}).ok());                               // finished
}

TEST_F(GenerateStreamTest, IgnoreEosAndLength) {
  SamplingParams p;
  p.eos_token_ids = {tokenizer_->eos_id()};
  p.ignore_eos = true;
  p.max_new_tokens = 3;
  auto stream = Stream(p);
  std::vector<int64_t> ids = {Ids("a")[0], tokenizer_->eos_id(), Ids("b")[0], Ids("c")[0]};
  Feed(*stream, ids);
  EXPECT_EQ(stream->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(stream->n_generated_tokens(), 3);
  EXPECT_EQ(stream->text(), "ab");
}

// The scheduler ends a stream early (cancel, deadline, full slot): held-back text comes out
// once, the reason sticks, and a finished stream cannot be advanced.
TEST_F(GenerateStreamTest, FinishEarlyReleasesHeldText) {
  SamplingParams p;
  p.stop = {"\n\nHuman:"};
  auto stream = Stream(p);
  std::vector<std::string> deltas = Feed(*stream, Ids("Hi\n\nHum"));
  EXPECT_EQ(stream->text(), "Hi");
  EXPECT_EQ(stream->Finish(FinishReason::kLength), "\n\nHum");
  EXPECT_EQ(stream->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(stream->Finish(FinishReason::kStop), "");
  EXPECT_EQ(stream->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(stream->text(), "Hi\n\nHum");
  GenerationStream* streams[] = {stream.get()};
  EXPECT_EQ(AdvanceBatch(at::zeros({1, 8}), streams).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(GenerateStreamTest, StopStringsNeedATokenizer) {
  SamplingParams p;
  p.stop = {"x"};
  auto s = GenerationStream::Create(p, nullptr, {});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), ::testing::HasSubstr("stop"));
}

}  // namespace
}  // namespace lmeye
