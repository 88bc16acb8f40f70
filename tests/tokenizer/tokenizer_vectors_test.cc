// Exact ids on every vector of tests/data/tokenizers/*/vectors.jsonl, and decode round trips.
#include <atomic>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/tokenizer/utf8.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

std::vector<nlohmann::json> ReadVectors(const std::string& relative) {
  std::ifstream in(TestData(relative));
  EXPECT_TRUE(in.good()) << relative;
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

std::unique_ptr<Tokenizer> Gpt2() {
  auto tok = LoadTokenizer(TestData("tokenizers/gpt2"));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

std::unique_ptr<Tokenizer> Opt() {
  auto tok = LoadBpeTokenizer(TestData("tokenizers/opt/vocab_derived.json"),
                              TestData("tokenizers/gpt2/vocab.bpe"), TokenizerFamily::kOpt);
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

std::unique_ptr<Tokenizer> Llama() {
  auto tok = LoadTokenizer(TestData("tokenizers/llama_spm"));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

TEST(TokenizerVectorsTest, Gpt2AllVectorsExact) {
  auto tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->family(), TokenizerFamily::kGpt2);
  EXPECT_EQ(tok->vocab_size(), 50257);
  const auto vectors = ReadVectors("tokenizers/gpt2/vectors.jsonl");
  ASSERT_EQ(vectors.size(), 66u);
  int exact = 0;
  for (const auto& v : vectors) {
    const std::string text = v["text"];
    const auto expected = v["ids"].get<std::vector<int>>();
    auto ids = tok->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << "text: " << text;
    exact += *ids == expected;
    // GPT-2 adds nothing for a prompt.
    EXPECT_EQ(*tok->EncodeForPrompt(text), expected);
    auto decoded = tok->Decode(*ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_EQ(exact, 66);
}

TEST(TokenizerVectorsTest, OptAllVectorsExact) {
  auto tok = Opt();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 1);
  EXPECT_EQ(tok->special_tokens().unk_id, 3);
  EXPECT_TRUE(tok->special_tokens().add_bos);
  const auto vectors = ReadVectors("tokenizers/opt/vectors.jsonl");
  ASSERT_FALSE(vectors.empty());
  int exact_no_bos = 0, exact_default = 0;
  for (const auto& v : vectors) {
    const std::string text = v["text"];
    const auto no_bos = v["ids_no_bos"].get<std::vector<int>>();
    const auto hf_default = v["ids_hf_default"].get<std::vector<int>>();
    auto raw = tok->Encode(text);
    auto prompt = tok->EncodeForPrompt(text);
    ASSERT_TRUE(raw.ok() && prompt.ok());
    EXPECT_EQ(*raw, no_bos) << "text: " << text;
    EXPECT_EQ(*prompt, hf_default) << "text: " << text;
    exact_no_bos += *raw == no_bos;
    exact_default += *prompt == hf_default;
    // The BOS (`</s>`) is special: decoding skips it.
    EXPECT_EQ(*tok->Decode(*prompt), text);
  }
  EXPECT_EQ(exact_no_bos, static_cast<int>(vectors.size()));
  EXPECT_EQ(exact_default, static_cast<int>(vectors.size()));
}

TEST(TokenizerVectorsTest, OptHfDocsExample) {
  auto tok = Opt();
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(*tok->EncodeForPrompt("Hello, my dog is cute"),
              ::testing::ElementsAre(2, 31414, 6, 127, 2335, 16, 11962));
}

TEST(TokenizerVectorsTest, LlamaAllVectorsExact) {
  auto tok = Llama();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->family(), TokenizerFamily::kLlama);
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->special_tokens().unk_id, 0);
  EXPECT_EQ(tok->pad_id(), -1);
  const auto* spm = dynamic_cast<const SentencePieceTokenizer*>(tok.get());
  ASSERT_NE(spm, nullptr);
  const auto vectors = ReadVectors("tokenizers/llama_spm/vectors.jsonl");
  ASSERT_FALSE(vectors.empty());
  int exact_ids = 0, exact_bos = 0, exact_pieces = 0, exact_decoded = 0;
  for (const auto& v : vectors) {
    const std::string text = v["text"];
    const auto ids = v["ids"].get<std::vector<int>>();
    const auto with_bos = v["ids_with_bos"].get<std::vector<int>>();
    const auto pieces = v["pieces"].get<std::vector<std::string>>();
    const std::string decoded = v["decoded"];
    auto raw = tok->Encode(text);
    auto prompt = tok->EncodeForPrompt(text);
    ASSERT_TRUE(raw.ok() && prompt.ok());
    EXPECT_EQ(*raw, ids) << "text: " << text;
    EXPECT_EQ(*prompt, with_bos) << "text: " << text;
    std::vector<std::string> got_pieces;
    for (int id : *raw) got_pieces.push_back(tok->IdToPiece(id));
    EXPECT_EQ(got_pieces, pieces) << "text: " << text;
    auto got = tok->Decode(ids);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, decoded) << "text: " << text;
    EXPECT_EQ(*tok->Decode(with_bos), decoded) << "text: " << text;
    EXPECT_EQ(*spm->ReferenceDecode(ids), decoded);
    exact_ids += *raw == ids;
    exact_bos += *prompt == with_bos;
    exact_pieces += got_pieces == pieces;
    exact_decoded += *got == decoded;
  }
  const int n = static_cast<int>(vectors.size());
  EXPECT_EQ(exact_ids, n);
  EXPECT_EQ(exact_bos, n);
  EXPECT_EQ(exact_pieces, n);
  EXPECT_EQ(exact_decoded, n);
}

// Decode agrees with libsentencepiece's DecodeIds on sequences that exercise its rules: control
// tokens before the first piece, byte pieces first, <unk>, invalid byte runs.
TEST(TokenizerVectorsTest, LlamaDecodeMatchesLibraryOnEdgeCases) {
  auto tok = Llama();
  ASSERT_NE(tok, nullptr);
  const auto* spm = dynamic_cast<const SentencePieceTokenizer*>(tok.get());
  const std::vector<std::vector<int>> cases = {{29871, 15043, 3186},
                                               {1, 15043, 3186},
                                               {1, 29871, 15043},
                                               {13, 15043},
                                               {0, 15043},
                                               {15043, 0, 3186},
                                               {1, 1, 15043},
                                               {2, 15043},
                                               {232, 15043},
                                               {232, 133, 15043},
                                               {232, 133},
                                               {29871},
                                               {259},
                                               {1, 259},
                                               {13, 259},
                                               {},
                                               {1},
                                               {15043, 1, 3186}};
  for (const auto& ids : cases) {
    auto mine = tok->Decode(ids);
    auto ref = spm->ReferenceDecode(ids);
    ASSERT_TRUE(mine.ok() && ref.ok());
    EXPECT_EQ(*mine, *ref) << ::testing::PrintToString(ids);
  }
}

TEST(TokenizerVectorsTest, LongRepeatedWordIsFastAndExact) {
  auto tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  // One 200k-letter GPT-2 word: the merge loop must not be quadratic.
  const std::string text(200000, 'A');
  auto ids = tok->Encode(text);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*tok->Decode(*ids), text);
  // "AAAAAAAA" (8) is id 43488 in GPT-2's vocabulary; 200000 = 25000 * 8.
  EXPECT_EQ(ids->size(), 25000u);
  EXPECT_EQ(ids->front(), 43488);
}

}  // namespace
}  // namespace lmeye

namespace lmeye {
namespace {

// Random valid UTF-8 over scripts, emoji, combining marks and white space.
std::string RandomText(std::mt19937* rng) {
  static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
      {0x20, 0x7E},     {0x20, 0x7E},     {0x20, 0x7E},       {'\t', '\n'},       {0xA0, 0xFF},
      {0x300, 0x36F},   {0x400, 0x4FF},   {0x600, 0x6FF},     {0x900, 0x97F},     {0x3000, 0x3003},
      {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x200B, 0x200D}};
  std::uniform_int_distribution<int> len(0, 60);
  std::uniform_int_distribution<size_t> pick(0, kRanges.size() - 1);
  std::string s;
  const int n = len(*rng);
  for (int i = 0; i < n; ++i) {
    const auto& r = kRanges[pick(*rng)];
    std::uniform_int_distribution<uint32_t> cp(r.first, r.second);
    AppendUtf8(cp(*rng), &s);
  }
  return s;
}

TEST(TokenizerRoundTripTest, RandomTextDecodesBack) {
  auto gpt2 = Gpt2();
  auto llama = Llama();
  ASSERT_TRUE(gpt2 && llama);
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const std::string text = RandomText(&rng);
    auto g = gpt2->Encode(text);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(*gpt2->Decode(*g), text);
    auto l = llama->Encode(text);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(*llama->Decode(*l), text);
  }
}

// Encode from several threads at once (the word cache is shared): same ids as one thread.
TEST(TokenizerRoundTripTest, ConcurrentEncodeIsConsistent) {
  auto tok = Gpt2();
  ASSERT_NE(tok, nullptr);
  const auto vectors = ReadVectors("tokenizers/gpt2/vectors.jsonl");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        for (const auto& v : vectors) {
          auto ids = tok->Encode(v["text"].get<std::string>());
          if (!ids.ok() || *ids != v["ids"].get<std::vector<int>>()) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace lmeye
