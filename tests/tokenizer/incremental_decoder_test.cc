// Streaming detokenization: only complete UTF-8 comes out, and the stream equals Decode().
#include "model/tokenizer/incremental_decoder.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer_factory.h"
#include "model/tokenizer/utf8.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;
using ::testing::ElementsAre;

const std::string kFffd = "\xef\xbf\xbd";

bool IsValidUtf8(const std::string& s) {
  std::string out;
  AppendValidUtf8(s, Utf8Replacement::kPerByte, true, &out);
  return out == s;
}

std::unique_ptr<Tokenizer> Load(const std::string& dir) {
  auto tok = LoadTokenizer(TestData(dir));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

// Streams `ids`, returning each Push's output, then Flush's output as the last element.
std::vector<std::string> Stream(const Tokenizer& tok, const std::vector<int>& ids,
                                bool at_text_start = true) {
  IncrementalDecoder decoder(&tok, at_text_start);
  std::vector<std::string> out;
  for (int id : ids) {
    auto piece = decoder.Push(id);
    EXPECT_TRUE(piece.ok()) << piece.status();
    out.push_back(piece.value_or(""));
  }
  out.push_back(decoder.Flush());
  return out;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += p;
  return s;
}

// Every vector of a fixture, streamed one id at a time: each chunk is valid UTF-8, and the
// chunks add up to the text.
void CheckAllVectorsStream(const std::string& dir, const char* ids_key) {
  auto tok = Load("tokenizers/" + dir);
  ASSERT_NE(tok, nullptr);
  std::ifstream in(TestData("tokenizers/" + dir + "/vectors.jsonl"));
  std::string line;
  int n = 0, held_back = 0;
  while (std::getline(in, line)) {
    const auto v = nlohmann::json::parse(line);
    const std::string text = v["text"];
    const auto ids = v[ids_key].get<std::vector<int>>();
    const auto chunks = Stream(*tok, ids);
    for (const auto& c : chunks) EXPECT_TRUE(IsValidUtf8(c)) << "text: " << text;
    EXPECT_EQ(Join(chunks), *tok->Decode(ids)) << "text: " << text;
    for (size_t i = 0; i + 1 < chunks.size(); ++i) held_back += chunks[i].empty();
    ++n;
  }
  EXPECT_GT(n, 40);
  EXPECT_GT(held_back, 0);  // the fixtures do split characters across tokens
}

TEST(IncrementalDecoderTest, Gpt2VectorsStreamValidUtf8) { CheckAllVectorsStream("gpt2", "ids"); }
TEST(IncrementalDecoderTest, LlamaVectorsStreamValidUtf8) {
  CheckAllVectorsStream("llama_spm", "ids");
}

TEST(IncrementalDecoderTest, Gpt2HoldsSplitCharacter) {
  auto tok = Load("tokenizers/gpt2");
  // " this is 🦙.cpp": 🦙 (F0 9F A6 99) is spread over 12520 (" \xf0\x9f"), 99, 247.
  EXPECT_THAT(Stream(*tok, {428, 318, 12520, 99, 247, 13, 20322}),
              ElementsAre(" this", " is", " ", "", "🦙", ".", "cpp", ""));
}

TEST(IncrementalDecoderTest, Gpt2IncompleteTailBecomesReplacementOnFlush) {
  auto tok = Load("tokenizers/gpt2");
  EXPECT_THAT(Stream(*tok, {428, 12520}), ElementsAre(" this", " ", kFffd));
  // A later ASCII token proves the bytes invalid: replaced at once (one U+FFFD, like Python).
  EXPECT_THAT(Stream(*tok, {12520, 13}), ElementsAre(" ", kFffd + ".", ""));
  EXPECT_EQ(*tok->Decode({12520, 13}), " " + kFffd + ".");
}

TEST(IncrementalDecoderTest, LlamaLeadingSpaceOnlyAtTextStart) {
  auto tok = Load("tokenizers/llama_spm");
  // "Hello world" = ▁Hello ▁world: the first piece's dummy-prefix space is dropped, later ones
  // are real spaces.
  EXPECT_THAT(Stream(*tok, {15043, 3186}), ElementsAre("Hello", " world", ""));
  EXPECT_THAT(Stream(*tok, {1, 15043, 3186}), ElementsAre("", "Hello", " world", ""));
  // Continuing after a prompt: the first generated piece keeps its space.
  EXPECT_THAT(Stream(*tok, {15043, 3186}, /*at_text_start=*/false),
              ElementsAre(" Hello", " world", ""));
  // " Hello world" = ▁ ▁Hello ▁world: only the lone ▁ loses its space.
  EXPECT_THAT(Stream(*tok, {29871, 15043, 3186}), ElementsAre("", " Hello", " world", ""));
}

TEST(IncrementalDecoderTest, LlamaByteFallbackHeldUntilComplete) {
  auto tok = Load("tokenizers/llama_spm");
  auto ids = tok->Encode("🦙");
  ASSERT_TRUE(ids.ok());
  // ▁ then four byte pieces <0xF0> <0x9F> <0xA6> <0x99>.
  ASSERT_EQ(ids->size(), 5u);
  EXPECT_THAT(Stream(*tok, *ids), ElementsAre("", "", "", "", "🦙", ""));
  // An unfinished byte run is flushed as one U+FFFD per byte, as SentencePiece decodes it.
  EXPECT_THAT(Stream(*tok, {(*ids)[1], (*ids)[2]}), ElementsAre("", "", kFffd + kFffd));
  EXPECT_EQ(*tok->Decode({(*ids)[1], (*ids)[2]}), kFffd + kFffd);
}

TEST(IncrementalDecoderTest, SpecialTokensProduceNothing) {
  auto tok = Load("tokenizers/gpt2");
  auto img = tok->AddSpecialToken("<img-d>");
  ASSERT_TRUE(img.ok());
  EXPECT_THAT(Stream(*tok, {15496, *img, 50256, 995}), ElementsAre("Hello", "", "", " world", ""));
}

TEST(IncrementalDecoderTest, OutOfRangeIdIsAnErrorAndKeepsState) {
  auto tok = Load("tokenizers/gpt2");
  IncrementalDecoder decoder(tok.get());
  std::string out;
  ASSERT_TRUE(decoder.Push(12520, &out).ok());  // " \xf0\x9f": holds 2 bytes
  EXPECT_EQ(decoder.pending_bytes(), 2u);
  EXPECT_EQ(decoder.Push(50257, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.Push(-1, &out).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decoder.pending_bytes(), 2u);
  ASSERT_TRUE(decoder.Push(99, &out).ok());
  ASSERT_TRUE(decoder.Push(247, &out).ok());
  EXPECT_EQ(out, " 🦙");
  EXPECT_EQ(tok->Decode({1, 50257}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lmeye
