// Streaming detokenization: only complete UTF-8 comes out, and the stream equals Decode().
#include "model/tokenizer/incremental_decoder.h"

#include <fstream>
#include <memory>
#include <random>
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

namespace lmeye {
namespace {

// Random ids, including byte pieces and tokens that end mid-character: every chunk is valid
// UTF-8 and the chunks equal Decode().
TEST(IncrementalDecoderTest, RandomIdsAlwaysStreamValidUtf8) {
  for (const char* dir : {"tokenizers/gpt2", "tokenizers/llama_spm"}) {
    auto tok = Load(dir);
    ASSERT_NE(tok, nullptr);
    std::mt19937 rng(42);
    // Low ids are the byte symbols / byte pieces, where characters get split.
    std::uniform_int_distribution<int> any(0, tok->vocab_size() - 1), low(0, 300), coin(0, 1);
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int> ids(trial % 25);
      for (int& id : ids) id = coin(rng) ? low(rng) : any(rng);
      const auto chunks = Stream(*tok, ids);
      for (const auto& c : chunks) EXPECT_TRUE(IsValidUtf8(c)) << dir;
      EXPECT_EQ(Join(chunks), *tok->Decode(ids)) << dir;
    }
  }
}

// Arbitrary bytes, invalid UTF-8 included, encode without error; byte-level BPE is lossless up to
// the U+FFFD replacement of invalid sequences.
TEST(IncrementalDecoderTest, ArbitraryBytesEncode) {
  auto gpt2 = Load("tokenizers/gpt2");
  auto llama = Load("tokenizers/llama_spm");
  auto bloom = Load("tokenizers/tiny_hf/bloom_style");
  ASSERT_TRUE(gpt2 && llama && bloom);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 40);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(len(rng), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    std::string expected;
    AppendValidUtf8(bytes, Utf8Replacement::kMaximalSubpart, true, &expected);
    for (const Tokenizer* tok : {gpt2.get(), bloom.get()}) {
      auto ids = tok->Encode(bytes);
      ASSERT_TRUE(ids.ok());
      EXPECT_EQ(*tok->Decode(*ids), expected);
    }
    auto ids = llama->Encode(bytes);
    if (ids.ok()) {
      auto text = llama->Decode(*ids);
      ASSERT_TRUE(text.ok());
      EXPECT_TRUE(IsValidUtf8(*text));
    }
  }
}

}  // namespace
}  // namespace lmeye
