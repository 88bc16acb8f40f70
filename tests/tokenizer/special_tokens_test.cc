// Special tokens: per-family defaults, tokens added by id (<img>, <img-d>) that user text can
// never produce, and the factory's detection of families and directory overrides.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;
using ::testing::ElementsAre;
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> Gpt2() {
  auto tok = LoadTokenizer(TestData("tokenizers/gpt2"));
  EXPECT_TRUE(tok.ok()) << tok.status();
  return std::move(tok).value();
}

// A fresh directory under the test temp dir.
std::string MakeDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("lmeye_tok_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// An OPT-format directory as the hub ships it: vocab.json + merges.txt.
std::string MakeOptDir(const std::string& name) {
  const std::string dir = MakeDir(name);
  fs::copy_file(TestData("tokenizers/opt/vocab_derived.json"), dir + "/vocab.json");
  fs::copy_file(TestData("tokenizers/gpt2/vocab.bpe"), dir + "/merges.txt");
  return dir;
}

TEST(FamilyTableTest, EveryFamilyHasARow) {
  for (TokenizerFamily f : {TokenizerFamily::kGpt2, TokenizerFamily::kOpt, TokenizerFamily::kBloom,
                            TokenizerFamily::kLlama, TokenizerFamily::kT5}) {
    EXPECT_EQ(GetFamilySpec(f).family, f);
    EXPECT_EQ(TokenizerFamilyFromName(TokenizerFamilyName(f)), f);
  }
  EXPECT_EQ(TokenizerFamilyFromName("clip"), std::nullopt);
}

TEST(SpecialTokensTest, AddedTokensGetNextIdsAndAreNeverEncodedFromText) {
  auto tok = Gpt2();
  const auto img = tok->AddSpecialToken("<img>");
  const auto imgd = tok->AddSpecialToken("<img-d>");
  ASSERT_TRUE(img.ok() && imgd.ok());
  EXPECT_EQ(*img, 50257);
  EXPECT_EQ(*imgd, 50258);
  EXPECT_EQ(tok->vocab_size(), 50259);
  EXPECT_EQ(*tok->AddSpecialToken("<img>"), 50257);  // idempotent
  EXPECT_EQ(tok->IdToPiece(50258), "<img-d>");
  EXPECT_EQ(tok->PieceToId("<img-d>"), 50258);
  EXPECT_TRUE(tok->IsSpecial(50258));
  // A user typing the slot gets characters.
  EXPECT_THAT(*tok->Encode("<img-d>"), ElementsAre(27, 9600, 12, 67, 29));
  // Decoding skips the slot.
  EXPECT_EQ(*tok->Decode({15496, 50257, 50258, 995}), "Hello world");
  EXPECT_EQ(tok->AddSpecialToken("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecialTokensTest, ExistingEntryKeepsItsId) {
  auto tok = LoadBpeTokenizer(TestData("tokenizers/opt/vocab_derived.json"),
                              TestData("tokenizers/gpt2/vocab.bpe"), TokenizerFamily::kOpt);
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ((*tok)->vocab_size(), 50261);
  EXPECT_EQ(*(*tok)->AddSpecialToken("</s>"), 2);
  EXPECT_EQ(*(*tok)->AddSpecialToken("<img>"), 50261);
  EXPECT_EQ(*(*tok)->AddSpecialToken("<img-d>"), 50262);
}

TEST(SpecialTokensTest, AddWithFixedIds) {
  // The fixture's OPT vocabulary has 50261 entries; the real one 50265, where LMEye's <img> is.
  auto tok = LoadBpeTokenizer(TestData("tokenizers/opt/vocab_derived.json"),
                              TestData("tokenizers/gpt2/vocab.bpe"), TokenizerFamily::kOpt);
  ASSERT_TRUE(tok.ok());
  Tokenizer& t = **tok;
  ASSERT_TRUE(t.AddSpecialToken("<img>", 50265).ok());
  ASSERT_TRUE(t.AddSpecialToken("<img-d>", 50266).ok());
  EXPECT_EQ(t.vocab_size(), 50267);
  EXPECT_EQ(t.PieceToId("<img>"), 50265);
  EXPECT_EQ(t.IdToPiece(50262), "");  // reserved gap
  EXPECT_TRUE(t.IsSpecial(50262));
  EXPECT_EQ(*t.Decode({31414, 50262, 50265, 50266, 232}), "Hello world");
  EXPECT_TRUE(t.AddSpecialToken("<img>", 50265).ok());  // same again: fine
  EXPECT_FALSE(t.AddSpecialToken("<img>", 50270).ok());
  EXPECT_FALSE(t.AddSpecialToken("<new>", 31414).ok());  // "Hello" holds it
  EXPECT_TRUE(t.AddSpecialToken("</s>", 2).ok());
  EXPECT_FALSE(t.AddSpecialToken("<x>", -1).ok());
  EXPECT_FALSE(t.AddSpecialToken("<far>", 2000000000).ok());
}

TEST(SpecialTokensTest, PromptPrefixPerFamily) {
  auto opt = LoadBpeTokenizer(TestData("tokenizers/opt/vocab_derived.json"),
                              TestData("tokenizers/gpt2/vocab.bpe"), TokenizerFamily::kOpt);
  auto gpt2 = LoadTokenizer(TestData("tokenizers/gpt2"));
  auto llama = LoadTokenizer(TestData("tokenizers/llama_spm"));
  ASSERT_TRUE(opt.ok() && gpt2.ok() && llama.ok());
  EXPECT_THAT((*opt)->PromptPrefix(), ElementsAre(2));
  EXPECT_TRUE((*gpt2)->PromptPrefix().empty());
  EXPECT_THAT((*llama)->PromptPrefix(), ElementsAre(1));
}

TEST(SpecialTokensTest, LlamaAddsAfterPieces) {
  auto tok = LoadTokenizer(TestData("tokenizers/llama_spm"));
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(*(*tok)->AddSpecialToken("<img>"), 32000);
  EXPECT_EQ(*(*tok)->AddSpecialToken("<img-d>"), 32001);
  EXPECT_EQ(*(*tok)->Decode({1, 15043, 32000, 32001, 3186, 2}), "Hello world");
  // SentencePiece does not match it in text either.
  auto ids = (*tok)->Encode("<img-d>");
  ASSERT_TRUE(ids.ok());
  for (int id : *ids) EXPECT_LT(id, 32000);
}

TEST(SpecialTokensTest, ExplicitBosFlag) {
  auto tok = Gpt2();
  EXPECT_THAT(*tok->Encode("Hello", /*add_bos=*/true), ElementsAre(50256, 15496));
  EXPECT_THAT(*tok->Encode("Hello", /*add_bos=*/false), ElementsAre(15496));
  SpecialTokens none;
  ASSERT_TRUE(tok->set_special_tokens(none).ok());
  EXPECT_EQ(tok->Encode("Hello", true).status().code(), absl::StatusCode::kFailedPrecondition);
  SpecialTokens bad;
  bad.bos_id = 60000;
  EXPECT_EQ(tok->set_special_tokens(bad).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TokenizerFactoryTest, DetectsOptFromVocabulary) {
  auto tok = LoadTokenizer(MakeOptDir("opt_guess"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->family(), TokenizerFamily::kOpt);
  EXPECT_THAT(*(*tok)->EncodeForPrompt("Hello world"), ElementsAre(2, 31414, 232));
}

TEST(TokenizerFactoryTest, ConfigJsonNamesTheFamily) {
  const std::string dir = MakeOptDir("opt_config");
  WriteFile(dir + "/config.json", R"({"model_type": "opt", "vocab_size": 50272})");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->family(), TokenizerFamily::kOpt);
  // An explicit option wins.
  TokenizerOptions options;
  options.family = TokenizerFamily::kBloom;
  auto bloom = LoadTokenizer(dir, options);
  ASSERT_TRUE(bloom.ok()) << bloom.status();
  EXPECT_EQ((*bloom)->family(), TokenizerFamily::kBloom);
  EXPECT_FALSE((*bloom)->special_tokens().add_bos);
}

TEST(TokenizerFactoryTest, TokenizerConfigOverrides) {
  const std::string dir = MakeOptDir("opt_overrides");
  WriteFile(dir + "/special_tokens_map.json",
            R"({"bos_token": {"content": "<s>", "lstrip": false}, "pad_token": "<pad>"})");
  WriteFile(dir + "/tokenizer_config.json", R"({"add_bos_token": false, "eos_token": "</s>"})");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 0);
  EXPECT_EQ((*tok)->eos_id(), 2);
  EXPECT_EQ((*tok)->pad_id(), 1);
  EXPECT_FALSE((*tok)->special_tokens().add_bos);
  EXPECT_THAT(*(*tok)->EncodeForPrompt("Hello world"), ElementsAre(31414, 232));
}

// What Hugging Face saves after LMEye's add_special_tokens({"additional_special_tokens": ...}).
TEST(TokenizerFactoryTest, SavedAddedTokens) {
  const std::string dir = MakeOptDir("opt_added");
  WriteFile(dir + "/added_tokens.json", R"({"<img-d>": 50266, "<img>": 50265})");
  WriteFile(dir + "/special_tokens_map.json",
            R"({"bos_token": "</s>", "additional_special_tokens": ["<img>", "<img-d>", "<x>"]})");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->PieceToId("<img>"), 50265);
  EXPECT_EQ((*tok)->PieceToId("<img-d>"), 50266);
  EXPECT_EQ((*tok)->PieceToId("<x>"), 50267);
  EXPECT_TRUE((*tok)->IsSpecial(50265));
  EXPECT_THAT(*(*tok)->Encode("<img>"), ElementsAre(41552, 34252, 15698));
  WriteFile(dir + "/added_tokens.json", R"({"<img>": 31414})");  // "Hello"'s id
  auto bad = LoadTokenizer(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("added_tokens.json"));
}

TEST(TokenizerFactoryTest, EmptySpecialTokenStringsKeepDefaults) {
  const std::string dir = MakeDir("llama_empty_specials");
  fs::copy_file(TestData("tokenizers/llama_spm/tokenizer.model"), dir + "/tokenizer.model");
  WriteFile(dir + "/tokenizer_config.json",
            R"({"bos_token": "", "eos_token": "", "unk_token": "", "add_bos_token": true})");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
}

TEST(TokenizerFactoryTest, FixtureDirectories) {
  auto gpt2 = LoadTokenizer(TestData("tokenizers/gpt2"));  // encoder.json + vocab.bpe
  ASSERT_TRUE(gpt2.ok());
  EXPECT_EQ((*gpt2)->family(), TokenizerFamily::kGpt2);
  EXPECT_EQ((*gpt2)->eos_id(), 50256);
  auto llama = LoadTokenizer(TestData("tokenizers/llama_spm"));  // tokenizer.model
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ((*llama)->family(), TokenizerFamily::kLlama);
  EXPECT_TRUE((*llama)->special_tokens().add_bos);
  EXPECT_EQ((*llama)->IdToPiece(13), "<0x0A>");
  EXPECT_EQ((*llama)->IdToPiece(32000), "");
  EXPECT_EQ((*llama)->PieceToId("▁Hello"), 15043);
  EXPECT_EQ((*llama)->PieceToId("no such piece"), std::nullopt);
}

}  // namespace
}  // namespace lmeye
