// Missing and corrupt tokenizer files: clear absl errors naming the file, never a crash.
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string MakeDir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("lmeye_tokerr_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Expects `code` and a message mentioning `file`.
template <typename T>
void ExpectError(const absl::StatusOr<T>& result, absl::StatusCode code, const std::string& file,
                 const std::string& detail = "") {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), code) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(file));
  if (!detail.empty()) {
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(detail));
  }
}

TEST(TokenizerErrorsTest, MissingDirectoryAndFiles) {
  ExpectError(LoadTokenizer("/nonexistent/model"), absl::StatusCode::kNotFound,
              "/nonexistent/model", "tokenizer.model");
  const std::string empty = MakeDir("empty");
  ExpectError(LoadTokenizer(empty), absl::StatusCode::kNotFound, empty, "vocab.json + merges.txt");
  ExpectError(LoadBpeTokenizer(empty + "/vocab.json", TestData("tokenizers/gpt2/vocab.bpe")),
              absl::StatusCode::kNotFound, empty + "/vocab.json");
  ExpectError(LoadBpeTokenizer(TestData("tokenizers/gpt2/encoder.json"), empty + "/merges.txt"),
              absl::StatusCode::kNotFound, empty + "/merges.txt");
  ExpectError(LoadSentencePieceTokenizer(empty + "/tokenizer.model"), absl::StatusCode::kNotFound,
              empty + "/tokenizer.model");
  ExpectError(LoadHfTokenizerJson(empty + "/tokenizer.json"), absl::StatusCode::kNotFound,
              empty + "/tokenizer.json");
  // A directory where a file should be.
  ExpectError(LoadSentencePieceTokenizer(empty), absl::StatusCode::kInvalidArgument, empty);
}

TEST(TokenizerErrorsTest, CorruptVocabJson) {
  const std::string dir = MakeDir("vocab");
  const std::string merges = TestData("tokenizers/gpt2/vocab.bpe");
  const std::string encoder = ReadFile(TestData("tokenizers/gpt2/encoder.json"));
  WriteFile(dir + "/truncated.json", encoder.substr(0, encoder.size() / 2));
  ExpectError(LoadBpeTokenizer(dir + "/truncated.json", merges), absl::StatusCode::kInvalidArgument,
              "truncated.json", "invalid JSON");
  WriteFile(dir + "/array.json", "[1, 2, 3]");
  ExpectError(LoadBpeTokenizer(dir + "/array.json", merges), absl::StatusCode::kInvalidArgument,
              "array.json", "object");
  WriteFile(dir + "/string_id.json", R"({"a": "zero"})");
  ExpectError(LoadBpeTokenizer(dir + "/string_id.json", merges), absl::StatusCode::kInvalidArgument,
              "string_id.json", "not an integer");
  WriteFile(dir + "/empty.json", "");
  ExpectError(LoadBpeTokenizer(dir + "/empty.json", merges), absl::StatusCode::kInvalidArgument,
              "empty.json");
  WriteFile(dir + "/binary.json", std::string("\x00\xff\x13garbage", 10));
  ExpectError(LoadBpeTokenizer(dir + "/binary.json", merges), absl::StatusCode::kInvalidArgument,
              "binary.json");
  // Two tokens with one id.
  auto vocab = nlohmann::json::parse(encoder);
  vocab["Ġduplicate_token"] = 5;
  WriteFile(dir + "/dup.json", vocab.dump());
  ExpectError(LoadBpeTokenizer(dir + "/dup.json", merges), absl::StatusCode::kInvalidArgument,
              "dup.json", "used twice");
}

TEST(TokenizerErrorsTest, CorruptMerges) {
  const std::string dir = MakeDir("merges");
  const std::string encoder = TestData("tokenizers/gpt2/encoder.json");
  WriteFile(dir + "/one_token.txt", "#version: 0.2\nĠ t\nabc\n");
  ExpectError(LoadBpeTokenizer(encoder, dir + "/one_token.txt"), absl::StatusCode::kInvalidArgument,
              "one_token.txt", "line 3");
  WriteFile(dir + "/unknown.txt", "#version: 0.2\nĠ t\nzzzq xxxw\n");
  ExpectError(LoadBpeTokenizer(encoder, dir + "/unknown.txt"), absl::StatusCode::kInvalidArgument,
              "unknown.txt", "not in the vocabulary");
  // Truncated merges load (fewer merges) but are still a valid file.
  const std::string bpe = ReadFile(TestData("tokenizers/gpt2/vocab.bpe"));
  WriteFile(dir + "/short.txt", bpe.substr(0, 1000));
  const size_t cut = bpe.substr(0, 1000).rfind('\n');
  WriteFile(dir + "/short.txt", bpe.substr(0, cut + 1));
  EXPECT_TRUE(LoadBpeTokenizer(encoder, dir + "/short.txt").ok());
}

TEST(TokenizerErrorsTest, CorruptSentencePieceModel) {
  const std::string dir = MakeDir("spm");
  WriteFile(dir + "/empty.model", "");
  ExpectError(LoadSentencePieceTokenizer(dir + "/empty.model"), absl::StatusCode::kInvalidArgument,
              "empty.model");
  WriteFile(dir + "/garbage.model", "this is not a protobuf \xff\xff\xff\xff\x01\x02");
  ExpectError(LoadSentencePieceTokenizer(dir + "/garbage.model"),
              absl::StatusCode::kInvalidArgument, "garbage.model");
  const std::string model = ReadFile(TestData("tokenizers/llama_spm/tokenizer.model"));
  WriteFile(dir + "/truncated.model", model.substr(0, model.size() / 3));
  ExpectError(LoadSentencePieceTokenizer(dir + "/truncated.model"),
              absl::StatusCode::kInvalidArgument, "truncated.model");
  // LoadTokenizer names the file too.
  const std::string llama = MakeDir("spm_dir");
  WriteFile(llama + "/tokenizer.model", "garbage");
  ExpectError(LoadTokenizer(llama), absl::StatusCode::kInvalidArgument, "tokenizer.model");
}

TEST(TokenizerErrorsTest, UnsupportedTokenizerJson) {
  const std::string dir = MakeDir("hfjson");
  std::ifstream in(TestData("tokenizers/tiny_hf/bloom_style/tokenizer.json"));
  const auto good = nlohmann::json::parse(in);
  struct Case {
    const char* name;
    std::function<void(nlohmann::json*)> edit;
    const char* detail;
  };
  const Case cases[] = {
      // Read as a Unigram tokenizer.json (hf_unigram_json.h), whose vocab is a list.
      {"unigram", [](nlohmann::json* j) { (*j)["model"]["type"] = "Unigram"; }, "model.vocab"},
      {"regex",
       [](nlohmann::json* j) {
         (*j)["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
       },
       "not supported"},
      {"normalizer",
       [](nlohmann::json* j) {
         (*j)["normalizer"] = {{"type", "NFKC"}};
       },
       "normalizer"},
      {"decoder",
       [](nlohmann::json* j) {
         (*j)["decoder"] = {{"type", "Metaspace"}};
       },
       "decoder"},
      {"no_pre", [](nlohmann::json* j) { (*j)["pre_tokenizer"] = nullptr; }, "pre_tokenizer"},
      {"bad_merge", [](nlohmann::json* j) { (*j)["model"]["merges"][3] = 42; }, "model.merges[3]"},
      {"byte_fallback", [](nlohmann::json* j) { (*j)["model"]["byte_fallback"] = true; },
       "byte_fallback"},
      {"no_vocab", [](nlohmann::json* j) { (*j)["model"].erase("vocab"); }, "model.vocab"},
      {"bad_added", [](nlohmann::json* j) { (*j)["added_tokens"][0]["id"] = "x"; },
       "added_tokens[0]"},
      {"huge_id", [](nlohmann::json* j) { (*j)["model"]["vocab"]["zzz"] = 2000000000; },
       "far beyond"},
      {"prefix_after_split",
       [](nlohmann::json* j) {
         (*j)["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
       },
       "add_prefix_space"},
      {"unk", [](nlohmann::json* j) { (*j)["model"]["unk_token"] = "<nope>"; }, "<nope>"},
      {"clash", [](nlohmann::json* j) { (*j)["added_tokens"][0]["content"] = "<other>"; },
       "<other>"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(&j);
    const std::string path = dir + "/" + c.name + ".json";
    WriteFile(path, j.dump());
    ExpectError(LoadHfTokenizerJson(path), absl::StatusCode::kInvalidArgument, path, c.detail);
  }
  WriteFile(dir + "/broken.json", "{\"model\": ");
  ExpectError(LoadHfTokenizerJson(dir + "/broken.json"), absl::StatusCode::kInvalidArgument,
              "broken.json", "invalid JSON");
}

TEST(TokenizerErrorsTest, CorruptSideFiles) {
  const std::string dir = MakeDir("side");
  fs::copy_file(TestData("tokenizers/gpt2/encoder.json"), dir + "/encoder.json");
  fs::copy_file(TestData("tokenizers/gpt2/vocab.bpe"), dir + "/vocab.bpe");
  WriteFile(dir + "/config.json", "{not json");
  ExpectError(LoadTokenizer(dir), absl::StatusCode::kInvalidArgument, "config.json");
  fs::remove(dir + "/config.json");
  WriteFile(dir + "/tokenizer_config.json", R"({"bos_token": "<nope>"})");
  ExpectError(LoadTokenizer(dir), absl::StatusCode::kInvalidArgument, "tokenizer_config.json",
              "<nope>");
  WriteFile(dir + "/tokenizer_config.json", R"({"bos_token": 7})");
  ExpectError(LoadTokenizer(dir), absl::StatusCode::kInvalidArgument, "tokenizer_config.json");
  fs::remove(dir + "/tokenizer_config.json");
  EXPECT_TRUE(LoadTokenizer(dir).ok());
}

}  // namespace
}  // namespace lmeye
