// The Hugging Face tokenizer.json path, on the hand-made files in tests/data/tokenizers/tiny_hf
// (written by make_tiny_tokenizers.py there): GPT-2-style and BLOOM-style pre-tokenizers.
#include "model/tokenizer/hf_tokenizer_json.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

std::unique_ptr<Tokenizer> Load(const std::string& dir) {
  auto tok = LoadTokenizer(TestData("tokenizers/tiny_hf/" + dir));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

// The stored pieces of `text`'s ids, which read better than ids.
std::vector<std::string> Pieces(const Tokenizer& tok, const std::string& text) {
  auto ids = tok.Encode(text);
  EXPECT_TRUE(ids.ok()) << ids.status();
  std::vector<std::string> pieces;
  for (int id : ids.value_or(std::vector<int>())) pieces.push_back(tok.IdToPiece(id));
  // And every text decodes back.
  EXPECT_EQ(*tok.Decode(*ids), text);
  return pieces;
}

TEST(HfTokenizerJsonTest, ParsesGpt2Style) {
  auto parsed = ReadHfTokenizerJson(TestData("tokenizers/tiny_hf/gpt2_style/tokenizer.json"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->bpe.vocab.size(), 256u + 15u + 1u);
  EXPECT_EQ(parsed->bpe.merges.size(), 15u);
  EXPECT_EQ(parsed->bpe.merges[0], std::make_pair(std::string("h"), std::string("e")));
  EXPECT_THAT(parsed->bpe.pretokenizer.rules(), ::testing::ElementsAre(SplitRule::kGpt2));
  EXPECT_FALSE(parsed->bpe.pretokenizer.add_prefix_space());
  EXPECT_FALSE(parsed->prepend_token.has_value());
}

TEST(HfTokenizerJsonTest, ParsesBloomStyle) {
  auto parsed = ReadHfTokenizerJson(TestData("tokenizers/tiny_hf/bloom_style/tokenizer.json"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  // Merges written as pairs.
  EXPECT_EQ(parsed->bpe.merges[0], std::make_pair(std::string("h"), std::string("e")));
  // Split(BLOOM regex) then ByteLevel(use_regex=false): no GPT-2 regex after it.
  EXPECT_THAT(parsed->bpe.pretokenizer.rules(), ::testing::ElementsAre(SplitRule::kBloom));
  EXPECT_EQ(parsed->bpe.added_tokens.size(), 4u);
}

TEST(HfTokenizerJsonTest, Gpt2StyleEncodes) {
  auto tok = Load("gpt2_style");
  EXPECT_EQ(tok->family(), TokenizerFamily::kGpt2);  // guessed from <|endoftext|>
  const int eot = *tok->PieceToId("<|endoftext|>");
  EXPECT_EQ(tok->bos_id(), eot);
  EXPECT_EQ(tok->eos_id(), eot);
  EXPECT_FALSE(tok->special_tokens().add_bos);
  EXPECT_EQ(tok->vocab_size(), 272);
  EXPECT_THAT(Pieces(*tok, "hello world"), ::testing::ElementsAre("hello", "Ġworld"));
  // The GPT-2 regex splits "a-b" and "don't" before merging.
  EXPECT_THAT(Pieces(*tok, "a-b"), ::testing::ElementsAre("a", "-", "b"));
  EXPECT_THAT(Pieces(*tok, "don't"), ::testing::ElementsAre("d", "o", "n", "'t"));
  EXPECT_THAT(Pieces(*tok, "x12"), ::testing::ElementsAre("x", "12"));
  EXPECT_THAT(Pieces(*tok, "hello  world"), ::testing::ElementsAre("hello", "Ġ", "Ġworld"));
  // Special token text is text.
  EXPECT_THAT(Pieces(*tok, "<|endoftext|>").size(), 13u);
  EXPECT_EQ(*tok->Decode({*tok->PieceToId("hello"), eot}), "hello");
}

TEST(HfTokenizerJsonTest, BloomStyleEncodes) {
  auto tok = Load("bloom_style");
  EXPECT_EQ(tok->family(), TokenizerFamily::kBloom);  // from config.json
  EXPECT_EQ(tok->special_tokens().unk_id, 0);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 3);
  EXPECT_FALSE(tok->special_tokens().add_bos);  // BLOOM adds no BOS
  EXPECT_EQ(*tok->EncodeForPrompt("hello"), *tok->Encode("hello"));
  EXPECT_THAT(Pieces(*tok, "hello world"), ::testing::ElementsAre("hello", "Ġworld"));
  // BLOOM's regex keeps "a-b" and "don't" whole, so merges cross what GPT-2 splits.
  EXPECT_THAT(Pieces(*tok, "a-b"), ::testing::ElementsAre("a-b"));
  EXPECT_THAT(Pieces(*tok, "don't"), ::testing::ElementsAre("d", "o", "n't"));
  EXPECT_THAT(Pieces(*tok, "x12"), ::testing::ElementsAre("x", "12"));
  EXPECT_THAT(Pieces(*tok, "hello, world!"), ::testing::ElementsAre("hello", ",", "Ġworld", "!"));
  // A space before a space is an Isolated gap of its own; a white-space run is one word.
  EXPECT_THAT(Pieces(*tok, "hello  world"), ::testing::ElementsAre("hello", "Ġ", "Ġworld"));
  EXPECT_THAT(Pieces(*tok, "   "), ::testing::ElementsAre("ĠĠ", "Ġ"));
  // <s> typed by a user is text, never id 1.
  auto ids = tok->Encode("<s></s>");
  ASSERT_TRUE(ids.ok());
  for (int id : *ids) EXPECT_GT(id, 3);
  EXPECT_EQ(*tok->Decode({1, *tok->PieceToId("hello"), 2}), "hello");
}

// A vocabulary without some byte symbols: Hugging Face maps such bytes to unk_token, or drops
// them when there is none.
TEST(HfTokenizerJsonTest, MissingByteSymbols) {
  std::ifstream in(TestData("tokenizers/tiny_hf/bloom_style/tokenizer.json"));
  auto json = nlohmann::json::parse(in);
  json["model"]["vocab"].erase("z");
  const std::string path = ::testing::TempDir() + "/hf_missing_z.json";
  std::ofstream(path) << json.dump();
  auto dropping = LoadHfTokenizerJson(path);
  ASSERT_TRUE(dropping.ok()) << dropping.status();
  EXPECT_EQ(*(*dropping)->Decode(*(*dropping)->Encode("hello zzz world")), "hello  world");
  json["model"]["unk_token"] = "<unk>";
  std::ofstream(path) << json.dump();
  auto unk = LoadHfTokenizerJson(path);
  ASSERT_TRUE(unk.ok()) << unk.status();
  auto ids = (*unk)->Encode("az");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ::testing::ElementsAre(*(*unk)->PieceToId("a"), 0));
}

TEST(HfTokenizerJsonTest, TemplatePostProcessorSetsBos) {
  const std::string path = ::testing::TempDir() + "/hf_template_tokenizer.json";
  {
    auto parsed = ReadHfTokenizerJson(TestData("tokenizers/tiny_hf/bloom_style/tokenizer.json"));
    ASSERT_TRUE(parsed.ok());
  }
  // Same file with a TemplateProcessing that prepends <s>.
  std::ifstream in(TestData("tokenizers/tiny_hf/bloom_style/tokenizer.json"));
  auto json = nlohmann::json::parse(in);
  json["post_processor"] = nlohmann::json::parse(
      R"({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
          {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {}})");
  std::ofstream(path) << json.dump();
  auto tok = LoadHfTokenizerJson(path, TokenizerFamily::kBloom);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_TRUE((*tok)->special_tokens().add_bos);
  auto ids = (*tok)->EncodeForPrompt("hello");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->front(), 1);
}

}  // namespace
}  // namespace lmeye
