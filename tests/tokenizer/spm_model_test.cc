// SpmModel on its own: what it refuses (clear errors, never a crash), and BPE details on a tiny
// hand-written model.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/tokenizer/spm_model.h"
#include "model/tokenizer/spm_model_proto.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/tokenizer/spm_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::spm_testing::HostileText;
using ::lmeye::spm_testing::LlamaModelBytes;
using ::lmeye::spm_testing::ProtoWriter;
using ::lmeye::spm_testing::SerializeSpmModelProto;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kSpace = "\xe2\x96\x81";  // "▁"

// <unk> <s> </s>, then NORMAL pieces with descending scores (earlier merges win).
SpmModelProto TinyModel(const std::vector<std::string>& normal) {
  SpmModelProto m;
  m.trainer_spec.model_type = static_cast<int>(SpmModelType::kBpe);
  m.normalizer_spec.name = "identity";
  m.normalizer_spec.remove_extra_whitespaces = false;
  m.pieces.push_back({"<unk>", 0, SpmPieceType::kUnknown});
  m.pieces.push_back({"<s>", 0, SpmPieceType::kControl});
  m.pieces.push_back({"</s>", 0, SpmPieceType::kControl});
  float score = 0;
  for (const std::string& p : normal) m.pieces.push_back({p, score--, SpmPieceType::kNormal});
  return m;
}

SpmModel Load(const SpmModelProto& proto) {
  auto model = SpmModel::FromSerialized(SerializeSpmModelProto(proto));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(model).value() : SpmModel();
}

std::vector<std::string> Pieces(const SpmModel& model, const std::string& text) {
  auto ids = model.Encode(text);
  EXPECT_TRUE(ids.ok()) << ids.status();
  std::vector<std::string> out;
  for (int id : *ids) out.push_back(model.IdToPiece(id));
  return out;
}

TEST(SpmModelTest, MergesByScoreThenLeftmost) {
  // "▁a", "b", "a", "▁": chars; "ab" outranks "▁a", so "▁ab" is not reachable.
  const SpmModel m = Load(TinyModel({"ab", std::string(kSpace) + "a", "a", "b", kSpace, "bb"}));
  EXPECT_THAT(Pieces(m, "ab"), ElementsAre(kSpace, "ab"));
  // Ties on score do not happen between distinct pieces here; leftmost wins for repeats.
  EXPECT_THAT(Pieces(m, "bbb"), ElementsAre(kSpace, "bb", "b"));
  EXPECT_THAT(Pieces(m, "a a"), ElementsAre(std::string(kSpace) + "a", std::string(kSpace) + "a"));
}

TEST(SpmModelTest, UnknownRunsCollapseWithoutByteFallback) {
  const SpmModel m = Load(TinyModel({"a", kSpace}));
  auto ids = m.Encode(
      "a\xe6\x97\xa5\xe6\x9c\xac"
      "a");
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(4, 3, 0, 3));  // ▁ a <unk> a
  EXPECT_EQ(*m.Decode(*ids), "a \xe2\x81\x87 a");
}

TEST(SpmModelTest, EmptyAndWhitespaceOnly) {
  SpmModelProto proto = TinyModel({kSpace});
  const SpmModel keep = Load(proto);
  EXPECT_TRUE(keep.Encode("")->empty());
  EXPECT_EQ(keep.Encode("  ")->size(), 3u);
  proto.normalizer_spec.remove_extra_whitespaces = true;
  const SpmModel collapse = Load(proto);
  EXPECT_TRUE(collapse.Encode("   ")->empty());
  EXPECT_EQ(collapse.Encode("  a  ")->size(), 2u);  // ▁ <unk>
}

TEST(SpmModelTest, RejectsUnsupportedModels) {
  SpmModelProto word = TinyModel({"a"});
  word.trainer_spec.model_type = static_cast<int>(SpmModelType::kWord);
  auto r = SpmModel::FromSerialized(SerializeSpmModelProto(word));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("WORD"));

  // A charsmap is supported, but this one announces an 8-byte trie and holds 6 bytes.
  SpmModelProto nfkc = TinyModel({"a"});
  nfkc.normalizer_spec.name = "nmt_nfkc";
  nfkc.normalizer_spec.precompiled_charsmap = std::string("\x08\x00\x00\x00xxxxyy", 10);
  r = SpmModel::FromSerialized(SerializeSpmModelProto(nfkc));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nmt_nfkc"));
}

TEST(SpmModelTest, RejectsInconsistentModels) {
  auto expect_invalid = [](const SpmModelProto& m, const std::string& detail) {
    auto r = SpmModel::FromSerialized(SerializeSpmModelProto(m));
    ASSERT_FALSE(r.ok()) << detail;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(detail));
  };
  SpmModelProto m = TinyModel({"a", "a"});
  expect_invalid(m, "defined twice");
  m = TinyModel({"a"});
  m.pieces[0].type = SpmPieceType::kNormal;
  expect_invalid(m, "UNKNOWN");
  m = TinyModel({"a", ""});
  expect_invalid(m, "empty");
  m = TinyModel({"a"});
  m.pieces.push_back({"<0x41>", 0, SpmPieceType::kByte});
  expect_invalid(m, "byte_fallback");
  m.trainer_spec.byte_fallback = true;
  expect_invalid(m, "256");
  m = TinyModel({"a"});
  m.self_test.push_back({"a", "a"});  // gives "▁ a"
  expect_invalid(m, "self-test");
  m.self_test[0].expected = std::string(kSpace) + " a";
  EXPECT_TRUE(SpmModel::FromSerialized(SerializeSpmModelProto(m)).ok());
}

TEST(SpmModelTest, MalformedBytesAreErrorsNeverCrashes) {
  for (const std::string& bytes :
       {std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        std::string("\x0a\x05"
                    "ab"),
        std::string("\x0b"), std::string("\x08"), std::string("\x0d\x00\x00"), std::string("\x80"),
        std::string(1, '\0')}) {
    auto r = SpmModel::FromSerialized(bytes);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
  // A known field with the wrong wire type.
  ProtoWriter w;
  w.Varint(1, 5);
  EXPECT_THAT(std::string(SpmModel::FromSerialized(w.str()).status().message()),
              HasSubstr("wire type"));
}

TEST(SpmModelTest, TruncatedAndMutatedLlamaModels) {
  const std::string model = LlamaModelBytes();
  ASSERT_GT(model.size(), 1000u);
  ASSERT_TRUE(SpmModel::FromSerialized(model).ok());
  // Every truncation point in the head, then a sample of the rest: never a crash.
  for (size_t cut = 0; cut < model.size(); cut += cut < 4096 ? 1 : 997) {
    auto r = SpmModel::FromSerialized(absl::string_view(model).substr(0, cut));
    if (r.ok()) (void)r->Encode("Hello world");
  }
  // Random byte changes: an error or a model that encodes without crashing.
  HostileText gen(11);
  int loaded = 0;
  for (int i = 0; i < 300; ++i) {
    std::string mutated = model;
    for (int k = gen.Uniform(1, 8); k > 0; --k) {
      mutated[gen.Uniform(0, static_cast<int>(mutated.size()) - 1)] =
          static_cast<char>(gen.Uniform(0, 255));
    }
    auto r = SpmModel::FromSerialized(mutated);
    if (!r.ok()) continue;
    ++loaded;
    for (int j = 0; j < 3; ++j) {
      auto ids = r->Encode(gen.Next());
      if (ids.ok()) (void)r->Decode(*ids);
    }
  }
  std::printf("[ robustness ] %d of 300 mutated models still load\n", loaded);
}

// The factory names the file in errors from the model.
TEST(SpmModelTest, TokenizerErrorNamesFile) {
  SpmModelProto word = TinyModel({"a"});
  word.trainer_spec.model_type = static_cast<int>(SpmModelType::kWord);
  const std::string path = ::testing::TempDir() + "/lmeye_spm_word.model";
  { std::ofstream(path, std::ios::binary) << SerializeSpmModelProto(word); }
  auto tok = LoadSentencePieceTokenizer(path);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(tok.status().message()), HasSubstr(path));
}

}  // namespace
}  // namespace lmeye
