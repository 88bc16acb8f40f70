// The T5 tokenizer of the lingcloud-blip2-tiny fixture (BLIP-2 Flan-T5, LMEye v0.1) against its
// goldens: every tokenizer vector (ids and pieces, python3-sentencepiece 0.1.97 + </s>), every
// sample prompt's input_ids (with <img-q>/<img-d> parsed, LINGCLOUD.md ambiguity 5), the id
// layout of sentinels and added tokens, decoding and streaming; and malformed charsmaps and
// unigram models, which must give InvalidArgument and never crash.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "model/tokenizer/added_token_splitter.h"
#include "model/tokenizer/incremental_decoder.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/spm_charsmap.h"
#include "model/tokenizer/spm_model.h"
#include "model/tokenizer/t5_tokenizer.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "tests/common/test_data.h"
#include "tests/tokenizer/spm_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::spm_testing::HostileText;
using ::lmeye::spm_testing::ReadBinaryFile;
using ::lmeye::spm_testing::SerializeSpmModelProto;
using ::lmeye::testing::TestData;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kFixture[] = "models/lingcloud-blip2-tiny";

std::string T5Dir() { return TestData(std::string(kFixture) + "/blip2"); }

nlohmann::json Golden() {
  std::ifstream in(TestData(std::string(kFixture) + "/golden.json"));
  return nlohmann::json::parse(in);
}

std::unique_ptr<Tokenizer> LoadT5() {
  auto tok = LoadTokenizer(T5Dir());
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

TEST(T5TokenizerTest, LoadsFromDirectoryWithT5Layout) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->family(), TokenizerFamily::kT5);
  // 256 pieces, 100 sentinels, <img-d> and <img-q>.
  EXPECT_EQ(tok->vocab_size(), 358);
  EXPECT_EQ(tok->pad_id(), 0);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_EQ(tok->special_tokens().unk_id, 2);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_TRUE(tok->PromptPrefix().empty());
  EXPECT_THAT(tok->PromptSuffix(), ElementsAre(1));
  EXPECT_EQ(tok->PieceToId("<extra_id_0>"), 355);
  EXPECT_EQ(tok->PieceToId("<extra_id_1>"), 354);
  EXPECT_EQ(tok->PieceToId("<extra_id_99>"), 256);
  EXPECT_EQ(tok->IdToPiece(355), "<extra_id_0>");
  EXPECT_EQ(tok->PieceToId("<img-d>"), 356);
  EXPECT_EQ(tok->PieceToId("<img-q>"), 357);
  for (int id : {0, 1, 256, 300, 355, 356, 357}) EXPECT_TRUE(tok->IsSpecial(id)) << id;
  EXPECT_FALSE(tok->IsSpecial(3));
}

TEST(T5TokenizerTest, EveryGoldenVectorExact) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  const nlohmann::json vectors = Golden()["tokenizer_vectors"]["vectors"];
  ASSERT_EQ(vectors.size(), 30u);
  int exact = 0;
  for (const auto& v : vectors) {
    const std::string text = v["text"];
    const std::vector<int> expected = v["ids"];
    const std::vector<std::string> pieces = v["pieces"];
    auto ids = tok->EncodeForPrompt(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << text;
    std::vector<std::string> got_pieces;
    for (int id : *ids) got_pieces.push_back(tok->IdToPiece(id));
    // A run of unknown characters is one <unk> id; the library reports its surface as the piece.
    for (size_t i = 0; i < got_pieces.size() && i < pieces.size(); ++i) {
      if ((*ids)[i] == tok->special_tokens().unk_id) got_pieces[i] = pieces[i];
    }
    EXPECT_EQ(got_pieces, pieces) << text;
    // Without the </s>: Encode() alone.
    auto raw = tok->Encode(text);
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(std::vector<int>(expected.begin(), expected.end() - 1), *raw) << text;
    exact += *ids == expected && got_pieces == pieces;
  }
  EXPECT_EQ(exact, 30);
}

TEST(T5TokenizerTest, EverySamplePromptExact) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  const nlohmann::json samples = Golden()["samples"];
  ASSERT_FALSE(samples.empty());
  for (const auto& sample : samples) {
    const std::string prompt = sample["prompt_text"];
    const std::vector<int> expected = sample["input_ids"];
    auto ids = tok->EncodeWithAddedTokens(prompt);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << prompt;

    // The segments the golden was computed from.
    const std::vector<std::string> segments = sample["tokenizer_segments"];
    std::vector<int> by_segment;
    for (const std::string& segment : segments) {
      if (std::optional<int> id = tok->PieceToId(segment); id.has_value() && tok->IsSpecial(*id)) {
        by_segment.push_back(*id);
      } else {
        auto part = tok->Encode(segment);
        ASSERT_TRUE(part.ok());
        by_segment.insert(by_segment.end(), part->begin(), part->end());
      }
    }
    by_segment.push_back(tok->eos_id());
    EXPECT_EQ(by_segment, expected);

    // Plain Encode() never produces the added tokens.
    auto plain = tok->Encode(prompt);
    ASSERT_TRUE(plain.ok());
    for (int id : *plain) EXPECT_FALSE(tok->IsSpecial(id)) << prompt;
  }
}

TEST(T5TokenizerTest, AddedTokensSplitTheText) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  auto ids = tok->EncodeWithAddedTokens("<img-q><img-d>  \n <img-d></s><extra_id_0>", false);
  ASSERT_TRUE(ids.ok());
  EXPECT_THAT(*ids, ElementsAre(357, 356, 356, 1, 355));
  // White space next to a token goes; what is left of a stretch is encoded on its own.
  EXPECT_EQ(*tok->EncodeWithAddedTokens(" a <img-d> b ", false), (std::vector<int>{8, 356, 40}));
  EXPECT_EQ(*tok->EncodeWithAddedTokens("", true), (std::vector<int>{1}));
  EXPECT_EQ(*tok->EncodeWithAddedTokens("a", true), *tok->EncodeForPrompt("a"));
  // The longest token at the leftmost position.
  AddedTokenSplitter splitter;
  splitter.Add("<a>", 1);
  splitter.Add("<a>b", 2);
  splitter.Add("b", 3);
  const std::vector<TextSegment> parts = splitter.Split("x<a>bb\xe3\x80\x80<a> y", true);
  std::vector<std::string> texts;
  std::vector<int> token_ids;
  for (const TextSegment& p : parts) {
    texts.emplace_back(p.text);
    token_ids.push_back(p.token_id);
  }
  EXPECT_THAT(texts, ElementsAre("x", "<a>b", "b", "<a>", "y"));
  EXPECT_THAT(token_ids, ElementsAre(-1, 2, 3, 1, -1));
}

// Decode: SentencePiece's text, specials skipped; streaming gives the same.
TEST(T5TokenizerTest, DecodeRoundTripsAndStreams) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  const nlohmann::json golden = Golden();
  for (const auto& v : golden["tokenizer_vectors"]["vectors"]) {
    const std::string text = v["text"];
    auto ids = tok->EncodeForPrompt(text);
    ASSERT_TRUE(ids.ok());
    auto decoded = tok->Decode(*ids);
    ASSERT_TRUE(decoded.ok());
    // Text already in normal form (ASCII, single spaces, no edges) comes back unchanged.
    const bool normal =
        std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; }) &&
        text.find("  ") == std::string::npos && !text.empty() && text.front() != ' ' &&
        text.back() != ' ';
    if (normal) {
      EXPECT_EQ(*decoded, text);
    }
    IncrementalDecoder stream(tok.get());
    std::string streamed;
    for (int id : *ids) ASSERT_TRUE(stream.Push(id, &streamed).ok());
    stream.Flush(&streamed);
    EXPECT_EQ(streamed, *decoded) << text;
  }
  EXPECT_EQ(*tok->Decode(*tok->Encode("\xef\xac\x81ne \xef\xbc\xa1")), "fine A");
  // "▁" then <unk> (" ⁇ ", SentencePiece's surface) then "▁b".
  EXPECT_EQ(*tok->Decode(*tok->Encode("a \xe6\x97\xa5\xe6\x9c\xac b")), "a  \xe2\x81\x87  b");
  for (const auto& sample : golden["samples"]) {
    const std::vector<int> ids = sample["input_ids"];
    auto decoded = tok->Decode(ids);
    ASSERT_TRUE(decoded.ok());
    EXPECT_THAT(*decoded, HasSubstr("Human: <img> "));
    EXPECT_THAT(*decoded, ::testing::EndsWith(" Assistant:"));
    EXPECT_THAT(*decoded, ::testing::Not(HasSubstr("<img-d>")));
  }
  EXPECT_FALSE(tok->Decode({358}).ok());
}

// On hostile text: Decode equals SentencePiece's own DecodeIds of the ids without specials, and
// streaming equals Decode; templates with tokens in odd places encode without error.
TEST(T5TokenizerTest, HostileTextDecodesAsSentencePiece) {
  auto tok = LoadT5();
  ASSERT_NE(tok, nullptr);
  const auto* spm = dynamic_cast<const SentencePieceTokenizer*>(tok.get());
  ASSERT_NE(spm, nullptr);
  HostileText gen(31);
  constexpr int kStrings = 2000;
  int equal = 0;
  for (int i = 0; i < kStrings; ++i) {
    std::string text = gen.Next();
    if (i % 3 == 0) text += "<img-d>" + gen.Next() + " <img-q>\n" + gen.Next();
    auto ids = tok->EncodeWithAddedTokens(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    ASSERT_FALSE(ids->empty());
    EXPECT_EQ(ids->back(), 1);
    std::vector<int> plain;
    for (int id : *ids) {
      if (!tok->IsSpecial(id)) plain.push_back(id);
    }
    auto decoded = tok->Decode(*ids);
    auto reference = spm->ReferenceDecode(plain);
    ASSERT_TRUE(decoded.ok() && reference.ok());
    IncrementalDecoder stream(tok.get());
    std::string streamed;
    for (int id : *ids) ASSERT_TRUE(stream.Push(id, &streamed).ok());
    stream.Flush(&streamed);
    EXPECT_EQ(*decoded, *reference);
    EXPECT_EQ(streamed, *decoded);
    equal += *decoded == *reference && streamed == *decoded;
  }
  EXPECT_EQ(equal, kStrings);
}

TEST(T5TokenizerTest, ExtraIdsFromConfig) {
  EXPECT_EQ(*ReadT5ExtraIds(T5Dir() + "/tokenizer_config.json"), 100);
  EXPECT_EQ(*ReadT5ExtraIds(T5Dir() + "/no_such_file.json"), 100);
  const std::string path = ::testing::TempDir() + "/lmeye_t5_config.json";
  { std::ofstream(path) << R"({"extra_ids": "many"})"; }
  EXPECT_EQ(ReadT5ExtraIds(path).status().code(), absl::StatusCode::kInvalidArgument);
  auto tok = LoadT5Tokenizer(T5Dir() + "/spiece.model", 3);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 259);
  EXPECT_EQ((*tok)->PieceToId("<extra_id_0>"), 258);
  EXPECT_EQ((*tok)->PieceToId("<extra_id_2>"), 256);
  EXPECT_FALSE(LoadT5Tokenizer(T5Dir() + "/spiece.model", -1).ok());
}

// A tokenizer.json as transformers' converter writes it for T5, built from the fixture's
// spiece.model: the vocabulary with the sentinels inside it, the charsmap in base64,
// WhitespaceSplit + Metaspace, "$A </s>", and LMEye's added tokens past the vocabulary.
nlohmann::json T5TokenizerJson(const SpmModelProto& proto) {
  nlohmann::json vocab = nlohmann::json::array();
  for (const SpmPieceProto& p : proto.pieces) vocab.push_back({p.piece, p.score});
  nlohmann::json added = nlohmann::json::array();
  for (int id : {0, 1, 2}) {
    added.push_back({{"id", id}, {"content", proto.pieces[id].piece}, {"special", true}});
  }
  const int n = static_cast<int>(proto.pieces.size());
  for (int k = 0; k < 100; ++k) {
    const std::string content = "<extra_id_" + std::to_string(99 - k) + ">";
    vocab.push_back({content, 0.0});
    added.push_back({{"id", n + k}, {"content", content}, {"special", true}});
  }
  added.push_back({{"id", n + 100}, {"content", "<img-d>"}, {"special", false}});
  added.push_back({{"id", n + 101}, {"content", "<img-q>"}, {"special", false}});
  nlohmann::json j;
  j["version"] = "1.0";
  j["added_tokens"] = added;
  j["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Precompiled"},
         {"precompiled_charsmap", absl::Base64Escape(proto.normalizer_spec.precompiled_charsmap)}},
        {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", " "}}}}};
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "WhitespaceSplit"}},
        {{"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"add_prefix_space", true}}}}};
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single",
                          {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                           {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}}};
  j["decoder"] = {
      {"type", "Metaspace"}, {"replacement", "\xe2\x96\x81"}, {"add_prefix_space", true}};
  j["model"] = {{"type", "Unigram"}, {"unk_id", 2}, {"vocab", vocab}};
  return j;
}

// --- Malformed models ---

SpmModelProto T5Proto() {
  auto proto = ParseSpmModelProto(ReadBinaryFile(T5Dir() + "/spiece.model"));
  EXPECT_TRUE(proto.ok()) << proto.status();
  return proto.ok() ? *proto : SpmModelProto();
}

void ExpectInvalid(const SpmModelProto& proto, const std::string& detail) {
  auto r = SpmModel::FromSerialized(SerializeSpmModelProto(proto));
  ASSERT_FALSE(r.ok()) << detail;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(detail));
}

void PutLittleEndian32(uint32_t v, std::string* blob, size_t at) {
  for (int i = 0; i < 4; ++i) (*blob)[at + i] = static_cast<char>(v >> (8 * i));
}

TEST(T5TokenizerTest, MalformedCharsmapIsInvalidArgument) {
  const SpmModelProto base = T5Proto();
  const std::string& blob = base.normalizer_spec.precompiled_charsmap;
  ASSERT_GT(blob.size(), 8u);
  const uint32_t trie_size = static_cast<uint8_t>(blob[0]) | static_cast<uint8_t>(blob[1]) << 8 |
                             static_cast<uint8_t>(blob[2]) << 16 |
                             static_cast<uint8_t>(blob[3]) << 24;
  ASSERT_LT(trie_size, blob.size());

  SpmModelProto m = base;
  m.normalizer_spec.precompiled_charsmap = blob.substr(0, 3);
  ExpectInvalid(m, "header");
  m.normalizer_spec.precompiled_charsmap = blob.substr(0, 4 + trie_size / 2);  // truncated trie
  ExpectInvalid(m, "trie of");
  m.normalizer_spec.precompiled_charsmap = blob.substr(0, 4 + trie_size);  // no replacements
  ExpectInvalid(m, "replacement");
  m.normalizer_spec.precompiled_charsmap = blob.substr(0, blob.size() - 1);  // last NUL cut
  ExpectInvalid(m, "not terminated");
  m.normalizer_spec.precompiled_charsmap = std::string("\0\0\0\0xyz", 7);
  ExpectInvalid(m, "empty trie");

  // Random damage to the units and the strings: a clean load or InvalidArgument, and encoding
  // whatever loads never crashes.
  std::mt19937 rng(1207);
  HostileText text(5);
  int loaded = 0;
  constexpr int kMutations = 300;
  for (int i = 0; i < kMutations; ++i) {
    std::string mutated = blob;
    const int n_changes = 1 + static_cast<int>(rng() % 16);
    for (int c = 0; c < n_changes; ++c) {
      const size_t at = 4 + rng() % (mutated.size() - 4);
      mutated[at] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) mutated.resize(4 + rng() % (mutated.size() - 4));
    m.normalizer_spec.precompiled_charsmap = mutated;
    auto model = SpmModel::FromSerialized(SerializeSpmModelProto(m));
    if (!model.ok()) {
      // InvalidArgument for a broken blob (or a failed self-test, which is also a bad model).
      EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
      continue;
    }
    ++loaded;
    for (int j = 0; j < 5; ++j) {
      auto ids = model->Encode(text.Next());
      ASSERT_TRUE(ids.ok()) << ids.status();
      (void)model->Decode(*ids);
    }
  }
  std::printf("[ robustness ] %d of %d damaged charsmaps still load\n", loaded, kMutations);
}

// A Darts-clone trie is acyclic; one with a cycle would make the "matches along a path" bound
// meaningless, so it is refused. Root (unit 0) has offset 1: its child for label c is unit
// 1 ^ c. Unit 96 = 1 ^ 'a' has label 'a' and offset 97, so its children are at 96 ^ 97 ^ c =
// 1 ^ c as well: 'a' leads back to unit 96. Every other unit has label 255, which no probe
// reaches (1 ^ 255 is past the array).
TEST(T5TokenizerTest, CharsmapCycleIsRefused) {
  constexpr int kUnits = 97;
  std::string blob(4 + 4 * kUnits, '\0');
  PutLittleEndian32(4 * kUnits, &blob, 0);
  for (int u = 0; u < kUnits; ++u) PutLittleEndian32(0xFFu, &blob, 4 + 4 * u);
  PutLittleEndian32(1u << 10, &blob, 4);
  PutLittleEndian32((97u << 10) | 'a', &blob, 4 + 4 * 96);
  auto map = SpmCharsMap::Create(blob);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("cycle"));
  // Without the loop (unit 96 gets offset 0: its children at 96 ^ c hold label 255) it loads,
  // and "a" matches no key.
  PutLittleEndian32('a', &blob, 4 + 4 * 96);
  map = SpmCharsMap::Create(blob);
  ASSERT_TRUE(map.ok()) << map.status();
  absl::string_view replacement;
  EXPECT_EQ(map->LongestPrefix("aaaa", &replacement), 0u);
}

TEST(T5TokenizerTest, MalformedUnigramModels) {
  // Only reserved pieces: nothing to segment with (the library: "no entry is found in the trie").
  SpmModelProto only_reserved = T5Proto();
  only_reserved.self_test.clear();
  only_reserved.pieces.resize(3);  // <pad> </s> <unk>
  ExpectInvalid(only_reserved, "NORMAL or USER_DEFINED");
  SpmModelProto nul = T5Proto();
  nul.self_test.clear();
  nul.pieces.push_back({std::string("a\0b", 3), -1.0f, SpmPieceType::kNormal});
  ExpectInvalid(nul, "NUL");
  // A self-test whose expected pieces score differently fails, as in the library.
  SpmModelProto self_test = T5Proto();
  self_test.self_test = {{"the image", "\xe2\x96\x81the \xe2\x96\x81image"},
                         {"the image", "\xe2\x96\x81 t h e \xe2\x96\x81image"}};
  ExpectInvalid(self_test, "self-test");
}

TEST(T5TokenizerTest, UnigramTokenizerJsonLoadsAsT5) {
  const SpmModelProto proto = T5Proto();
  const std::string dir = ::testing::TempDir() + "/lmeye_t5_json";
  std::filesystem::create_directories(dir);
  { std::ofstream(dir + "/tokenizer.json") << T5TokenizerJson(proto).dump(); }
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  auto from_spiece = LoadT5();
  ASSERT_NE(from_spiece, nullptr);
  EXPECT_EQ((*tok)->family(), TokenizerFamily::kT5);
  EXPECT_EQ((*tok)->vocab_size(), 358);
  EXPECT_EQ((*tok)->PieceToId("<extra_id_0>"), 355);
  EXPECT_EQ((*tok)->PieceToId("<img-q>"), 357);
  EXPECT_EQ((*tok)->eos_id(), 1);
  EXPECT_EQ((*tok)->pad_id(), 0);
  EXPECT_EQ((*tok)->bos_id(), -1);
  const nlohmann::json golden = Golden();
  for (const auto& v : golden["tokenizer_vectors"]["vectors"]) {
    EXPECT_EQ(*(*tok)->EncodeForPrompt(v["text"].get<std::string>()),
              v["ids"].get<std::vector<int>>());
  }
  for (const auto& sample : golden["samples"]) {
    EXPECT_EQ(*(*tok)->EncodeWithAddedTokens(sample["prompt_text"].get<std::string>()),
              sample["input_ids"].get<std::vector<int>>());
  }
  HostileText gen(77);
  for (int i = 0; i < 500; ++i) {
    const std::string text = gen.Next();
    auto a = (*tok)->EncodeWithAddedTokens(text);
    auto b = from_spiece->EncodeWithAddedTokens(text);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(*(*tok)->Decode(*a), *from_spiece->Decode(*b));
  }

  // What the converter never writes is refused, naming the field.
  struct Case {
    const char* detail;
    void (*edit)(nlohmann::json*);
  };
  const Case cases[] = {
      {"model.unk_id", [](nlohmann::json* j) { (*j)["model"]["unk_id"] = 100000; }},
      {"model.vocab", [](nlohmann::json* j) { (*j)["model"]["vocab"][5] = "x"; }},
      {"byte_fallback", [](nlohmann::json* j) { (*j)["model"]["byte_fallback"] = true; }},
      {"precompiled_charsmap",
       [](nlohmann::json* j) {
         (*j)["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "@@not base64@@";
       }},
      {"broken",
       [](nlohmann::json* j) {
         (*j)["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAAAAAAA";
       }},
      {"normalizer",
       [](nlohmann::json* j) {
         (*j)["normalizer"] = {{"type", "NFKC"}};
       }},
      {"pre_tokenizer", [](nlohmann::json* j) { (*j)["pre_tokenizer"] = nullptr; }},
      {"added_tokens", [](nlohmann::json* j) { (*j)["added_tokens"][1]["content"] = "<eos>"; }},
      {"post_processor",
       [](nlohmann::json* j) {
         (*j)["post_processor"] = {{"type", "BertProcessing"}};
       }},
      {"decoder",
       [](nlohmann::json* j) {
         (*j)["decoder"] = {{"type", "WordPiece"}};
       }},
  };
  const nlohmann::json good = T5TokenizerJson(proto);
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(&j);
    { std::ofstream(dir + "/tokenizer.json") << j.dump(); }
    auto bad = LoadTokenizer(dir);
    ASSERT_FALSE(bad.ok()) << c.detail;
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(c.detail));
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr("tokenizer.json"));
  }
}

}  // namespace
}  // namespace lmeye
