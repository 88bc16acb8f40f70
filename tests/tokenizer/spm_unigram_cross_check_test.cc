// Our SentencePiece on UNIGRAM models with a precompiled charsmap (unigram_model.h,
// spm_charsmap.h) against libsentencepiece 0.1.97 (spm_reference.h): the fixture's T5
// spiece.model (nmt_nfkc) on text that needs NFKC, white space and control characters, invalid
// UTF-8, thousands of random hostile strings (fixed seed); and model variants that switch on what
// the fixture leaves off (identity normalizer, user-defined symbols, UNUSED pieces, byte
// fallback, equal scores, the whitespace flags).
//
// Torch-free on purpose: libsentencepiece must not share a process with libtorch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "model/tokenizer/spm_model.h"
#include "model/tokenizer/spm_reference.h"
#include "tests/common/test_data.h"
#include "tests/tokenizer/spm_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::spm_testing::HostileText;
using ::lmeye::spm_testing::ReadBinaryFile;
using ::lmeye::spm_testing::SerializeSpmModelProto;
using ::lmeye::testing::TestData;

std::string T5ModelBytes() {
  return ReadBinaryFile(TestData("models/lingcloud-blip2-tiny/blip2/spiece.model"));
}

struct Pair {
  SpmModel ours;
  std::unique_ptr<SpmReference> ref;
};

std::unique_ptr<Pair> LoadBoth(const std::string& serialized) {
  auto p = std::make_unique<Pair>();
  auto ours = SpmModel::FromSerialized(serialized);
  EXPECT_TRUE(ours.ok()) << ours.status();
  if (!ours.ok()) return nullptr;
  p->ours = std::move(ours).value();
  p->ref = std::make_unique<SpmReference>();
  std::string error;
  EXPECT_TRUE(p->ref->LoadFromSerialized(serialized, &error)) << error;
  return p;
}

std::string Escaped(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

// Same ids and the same decoded text from both.
bool Agree(const Pair& p, const std::string& text) {
  std::vector<int> ref_ids;
  std::string error;
  if (!p.ref->Encode(text, &ref_ids, &error)) {
    ADD_FAILURE() << "reference failed on " << Escaped(text) << ": " << error;
    return false;
  }
  auto ids = p.ours.Encode(text);
  if (!ids.ok()) {
    ADD_FAILURE() << ids.status() << " on " << Escaped(text);
    return false;
  }
  if (*ids != ref_ids) {
    ADD_FAILURE() << "encode differs on " << Escaped(text)
                  << "\n ours: " << ::testing::PrintToString(*ids)
                  << "\n  ref: " << ::testing::PrintToString(ref_ids);
    return false;
  }
  std::string ref_text;
  EXPECT_TRUE(p.ref->Decode(ref_ids, &ref_text, &error)) << error;
  auto text_back = p.ours.Decode(ref_ids);
  if (!text_back.ok() || *text_back != ref_text) {
    ADD_FAILURE() << "decode differs on " << Escaped(text);
    return false;
  }
  return true;
}

// Text that exercises nmt_nfkc and the whitespace handling around it.
std::vector<std::string> NormalizationTexts() {
  return {
      "",
      " ",
      "   ",
      "\t",
      "\n",
      "\r\n",
      "Hello world",
      "  leading and trailing  ",
      "multiple     spaces\t\ttabs\n\nnewlines",
      "\xef\xac\x81ne \xef\xac\x82ow \xef\xac\x80",                     // ligatures fi fl ff
      "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 \xef\xbd\x81\xef\xbd\x82",  // full-width ABC ab
      "\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x81\xef\xbc\x9f",   // full-width 123!?
      "\xe2\x91\xa0\xe2\x91\xa1 \xe2\x85\xa0\xe2\x85\xa1",              // circled 1 2, roman I II
      "x\xc2\xb2 \xc2\xbd \xe2\x84\x83 \xe2\x84\xa2 \xe3\x8e\x8f",  // super 2, 1/2, degC, TM, kg
      "e\xcc\x81 a\xcc\x8a o\xcc\x88\xcc\x81",                      // combining marks
      "\xc3\xa9 \xc3\x85 \xe1\xb8\x9d",                             // precomposed
      "\xef\xbe\x8a\xef\xbe\x9e\xef\xbd\xb6\xef\xbe\x85",           // half-width katakana
      "\xea\xb0\x80\xe1\x84\x80\xe1\x85\xa1",                       // hangul and jamo
      "a\x01"
      "b\x02"
      "c\x7f"
      "d\xc2\x80"
      "e",  // control characters
      std::string("nul\0inside", 10),
      "zero\xe2\x80\x8bwidth\xe2\x80\x8c\xe2\x80\x8djoiners\xef\xbb\xbf",
      "nbsp\xc2\xa0here\xe3\x80\x80ideographic\xe2\x80\x83"
      "em",
      "\xe2\x96\x81"
      "already escaped \xe2\x96\x81\xe2\x96\x81",
      "\xef\xbf\xbd replacement",
      "bad \xff\xfe bytes \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80",
      "\xc0\xaf overlong",
      "\xf0\x9f\x98\x80 \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb emoji",
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
      "<img-d> <img-q> </s> <pad> <unk> <extra_id_0>",
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "The building in the image appears to be a multi-storey commercial building.",
      "Human: <img>\nDescribe the following image in detail.\n <img-q> <img-d>\nAssistant:",
  };
}

TEST(SpmUnigramCrossCheckTest, T5ModelLoadsAsTheLibrary) {
  auto proto = ParseSpmModelProto(T5ModelBytes());
  ASSERT_TRUE(proto.ok()) << proto.status();
  EXPECT_EQ(proto->trainer_spec.model_type, static_cast<int>(SpmModelType::kUnigram));
  EXPECT_FALSE(proto->normalizer_spec.precompiled_charsmap.empty());
  auto p = LoadBoth(T5ModelBytes());
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->ours.piece_size(), p->ref->piece_size());
  for (int id = 0; id < p->ours.piece_size(); ++id) {
    const std::string& piece = p->ref->IdToPiece(id);
    EXPECT_EQ(p->ours.IdToPiece(id), piece);
    EXPECT_EQ(p->ours.PieceToId(piece), p->ref->PieceToId(piece));
    EXPECT_EQ(p->ours.IsControl(id), p->ref->IsControl(id));
    EXPECT_EQ(p->ours.IsUnknown(id), p->ref->IsUnknown(id));
  }
  EXPECT_EQ(p->ours.eos_id(), p->ref->eos_id());
  EXPECT_EQ(p->ours.unk_id(), p->ref->unk_id());
  EXPECT_EQ(p->ours.pad_id(), p->ref->pad_id());
  EXPECT_EQ(p->ours.bos_id(), p->ref->bos_id());
}

TEST(SpmUnigramCrossCheckTest, T5NormalizationAndHostileStrings) {
  auto p = LoadBoth(T5ModelBytes());
  ASSERT_NE(p, nullptr);
  int equal = 0;
  const std::vector<std::string> texts = NormalizationTexts();
  for (const std::string& text : texts) equal += Agree(*p, text);
  EXPECT_EQ(equal, static_cast<int>(texts.size()));

  constexpr int kHostile = 4000;
  HostileText gen(20261207);
  int hostile_equal = 0;
  for (int i = 0; i < kHostile; ++i) hostile_equal += Agree(*p, gen.Next());
  EXPECT_EQ(hostile_equal, kHostile);
  std::printf("[ cross-check ] T5: %d/%zu normalization texts and %d/%d hostile strings equal\n",
              equal, texts.size(), hostile_equal, kHostile);
}

// Every code point of the BMP and some beyond, each alone and in a word: the whole charsmap.
TEST(SpmUnigramCrossCheckTest, T5EveryCodePoint) {
  auto p = LoadBoth(T5ModelBytes());
  ASSERT_NE(p, nullptr);
  int equal = 0, total = 0;
  std::string batch;
  for (uint32_t cp = 1; cp < 0x30000; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    if (cp >= 0x10000 && (cp & 0xFF) != 0 && cp % 7 != 0) continue;  // sample the planes
    std::string c;
    AppendUtf8(cp, &c);
    batch += c;
    batch += (cp % 3 == 0) ? " a" : "";
    if (batch.size() > 300) {
      equal += Agree(*p, batch);
      ++total;
      batch.clear();
    }
  }
  equal += Agree(*p, batch);
  ++total;
  EXPECT_EQ(equal, total);
  std::printf("[ cross-check ] T5: %d/%d code point batches equal\n", equal, total);
}

struct Variant {
  const char* name;
  void (*apply)(SpmModelProto*);
};

void AddUserDefined(SpmModelProto* m) {
  for (const char* s : {"<img-d>", "<img-q>", "ab", "\xe2\x96\x81the", "\xf0\x9f\x99\x82", "a b",
                        "12", "\xe2\x96\x81\xe2\x96\x81"}) {
    bool exists = false;
    for (auto& p : m->pieces) {
      if (p.piece == s) {
        p.type = SpmPieceType::kUserDefined;
        exists = true;
      }
    }
    if (!exists) m->pieces.push_back({s, 0.0f, SpmPieceType::kUserDefined});
  }
}

void SomeUnused(SpmModelProto* m) {
  for (size_t i = 3; i < m->pieces.size(); i += 4) {
    if (m->pieces[i].type == SpmPieceType::kNormal) m->pieces[i].type = SpmPieceType::kUnused;
  }
}

void ByteFallback(SpmModelProto* m) {
  m->trainer_spec.byte_fallback = true;
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    m->pieces.push_back(
        {std::string{'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'}, 0.0f, SpmPieceType::kByte});
  }
}

// Ties everywhere: the first candidate must win, as in the library.
void EqualScores(SpmModelProto* m) {
  for (auto& p : m->pieces) p.score = -1.0f;
}

const Variant kVariants[] = {
    {"identity_normalizer", [](SpmModelProto* m) { m->normalizer_spec.precompiled_charsmap = ""; }},
    {"keep_extra_whitespaces",
     [](SpmModelProto* m) { m->normalizer_spec.remove_extra_whitespaces = false; }},
    {"no_dummy_prefix", [](SpmModelProto* m) { m->normalizer_spec.add_dummy_prefix = false; }},
    {"no_escape_whitespaces",
     [](SpmModelProto* m) { m->normalizer_spec.escape_whitespaces = false; }},
    {"whitespace_as_suffix",
     [](SpmModelProto* m) { m->trainer_spec.treat_whitespace_as_suffix = true; }},
    {"user_defined", AddUserDefined},
    {"unused_pieces", SomeUnused},
    {"byte_fallback", ByteFallback},
    {"equal_scores", EqualScores},
    {"everything",
     [](SpmModelProto* m) {
       AddUserDefined(m);
       SomeUnused(m);
       ByteFallback(m);
       m->normalizer_spec.remove_extra_whitespaces = false;
     }},
    {"user_defined_negative_scores",
     [](SpmModelProto* m) {
       EqualScores(m);
       AddUserDefined(m);
     }},
};

TEST(SpmUnigramCrossCheckTest, ModelVariants) {
  auto base = ParseSpmModelProto(T5ModelBytes());
  ASSERT_TRUE(base.ok()) << base.status();
  for (const Variant& v : kVariants) {
    SpmModelProto proto = *base;
    proto.self_test.clear();  // its expected pieces are the fixture's own
    v.apply(&proto);
    auto p = LoadBoth(SerializeSpmModelProto(proto));
    ASSERT_NE(p, nullptr) << v.name;
    int equal = 0, total = 0;
    for (const std::string& text : NormalizationTexts()) {
      equal += Agree(*p, text);
      ++total;
    }
    HostileText gen(4242);
    for (int i = 0; i < 800; ++i) {
      equal += Agree(*p, gen.Next());
      ++total;
    }
    EXPECT_EQ(equal, total) << v.name;
    std::printf("[ cross-check ] unigram variant %s: %d/%d equal\n", v.name, equal, total);
  }
}

// Other unigram models, such as a real Flan-T5 spiece.model (not in the repository):
//   LMEYE_SPM_UNIGRAM_MODELS=/path/a/spiece.model:/path/b.model spm_unigram_cross_check_test
// Skipped when the variable is unset.
TEST(SpmUnigramCrossCheckTest, ModelsFromEnvironment) {
  const char* paths = std::getenv("LMEYE_SPM_UNIGRAM_MODELS");
  if (paths == nullptr || *paths == '\0') GTEST_SKIP() << "LMEYE_SPM_UNIGRAM_MODELS is unset";
  for (absl::string_view path : absl::StrSplit(paths, ':', absl::SkipEmpty())) {
    auto p = LoadBoth(ReadBinaryFile(std::string(path)));
    ASSERT_NE(p, nullptr) << path;
    // Prose from the model's own pieces, so that long pieces and deep trie paths are used.
    std::vector<std::string> words;
    for (int id = 0; id < p->ours.piece_size(); ++id) {
      if (p->ours.IsNormal(id)) {
        words.push_back(absl::StrReplaceAll(p->ours.IdToPiece(id), {{"\xe2\x96\x81", ""}}));
      }
    }
    HostileText gen(2026);
    int equal = 0, total = 0;
    for (const std::string& text : NormalizationTexts()) {
      equal += Agree(*p, text);
      ++total;
    }
    for (int i = 0; i < 3000; ++i) {
      std::string text = gen.Next();
      if (i % 2 == 0 && !words.empty()) text += gen.Prose(words, gen.Uniform(1, 400));
      equal += Agree(*p, text);
      ++total;
    }
    EXPECT_EQ(equal, total) << path;
    std::printf("[ cross-check ] %s: %d/%d equal\n", std::string(path).c_str(), equal, total);
  }
}

// Loading (the charsmap walk) and encoding a few MB, ours and the library's. Printed, not
// asserted: the machine is shared. The fixture's vocabulary is small (256 pieces), so the
// lattice is narrower than Flan-T5's 32k; the charsmap is the full nmt_nfkc one.
TEST(SpmUnigramCrossCheckTest, SpeedAgainstLibrary) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  const std::string bytes = T5ModelBytes();
  const auto l0 = Clock::now();
  auto ours = SpmModel::FromSerialized(bytes);
  const auto l1 = Clock::now();
  SpmReference ref;
  std::string error;
  ASSERT_TRUE(ref.LoadFromSerialized(bytes, &error)) << error;
  const auto l2 = Clock::now();
  ASSERT_TRUE(ours.ok()) << ours.status();
  std::printf("[ speed ] load: ours %.4f s, libsentencepiece %.4f s\n", seconds(l1 - l0),
              seconds(l2 - l1));

  const std::vector<std::string> words = {"the",   "image",  "fountain", "garden", "building",
                                          "sky",   "people", "Several",  "What",   "colour",
                                          "naïve", "ﬁne",    "Ａ",       "日本",   "stars,"};
  HostileText gen(11);
  std::vector<std::string> lines;
  size_t total = 0;
  while (total < (2u << 20)) {
    lines.push_back(gen.Prose(words, static_cast<size_t>(gen.Uniform(20, 2000))));
    total += lines.back().size();
  }
  std::vector<std::vector<int>> ours_ids, ref_ids;
  const auto t0 = Clock::now();
  for (const auto& line : lines) ours_ids.push_back(*ours->Encode(line));
  const auto t1 = Clock::now();
  for (const auto& line : lines) {
    ref_ids.emplace_back();
    ref.Encode(line, &ref_ids.back(), &error);
  }
  const auto t2 = Clock::now();
  EXPECT_TRUE(ours_ids == ref_ids);
  std::printf(
      "[ speed ] %zu lines, %.1f MB: ours %.3f s, libsentencepiece %.3f s, ours/lib = %.2f\n",
      lines.size(), total / 1048576.0, seconds(t1 - t0), seconds(t2 - t1),
      seconds(t1 - t0) / seconds(t2 - t1));
}

}  // namespace
}  // namespace lmeye
