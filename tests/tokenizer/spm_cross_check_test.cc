// Our SentencePiece (spm_model.h) against libsentencepiece (spm_reference.h): the same ids and
// the same decoded text on every LLaMA vector, on thousands of hostile strings, on random id
// sequences, and on model variants that switch on what LLaMA's model leaves off (unk without
// byte fallback, extra-whitespace removal, no dummy prefix, suffix spaces, UNUSED and
// USER_DEFINED pieces). Also times both on a few MB of text (printed, not asserted).
//
// Torch-free on purpose: libsentencepiece must not share a process with libtorch.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_replace.h"
#include "model/tokenizer/sentencepiece_tokenizer.h"
#include "model/tokenizer/spm_model.h"
#include "model/tokenizer/spm_reference.h"
#include "tests/common/test_data.h"
#include "tests/tokenizer/spm_test_util.h"

namespace lmeye {
namespace {

using ::lmeye::spm_testing::HostileText;
using ::lmeye::spm_testing::LlamaModelBytes;
using ::lmeye::spm_testing::SerializeSpmModelProto;
using ::lmeye::testing::TestData;

constexpr int kHostileStrings = 4000;

// Both implementations of one serialized model.
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

// Encodes `text` with both; expects equal ids and equal decodes of them. Returns whether all
// agreed.
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
  bool ok = true;
  if (*ids != ref_ids) {
    ADD_FAILURE() << "encode differs on " << Escaped(text)
                  << "\n ours: " << ::testing::PrintToString(*ids)
                  << "\n  ref: " << ::testing::PrintToString(ref_ids);
    ok = false;
  }
  std::string ref_text;
  EXPECT_TRUE(p.ref->Decode(ref_ids, &ref_text, &error)) << error;
  auto text_back = p.ours.Decode(ref_ids);
  if (!text_back.ok() || *text_back != ref_text) {
    ADD_FAILURE() << "decode differs on " << Escaped(text) << "\n ours: "
                  << (text_back.ok() ? Escaped(*text_back) : text_back.status().ToString())
                  << "\n  ref: " << Escaped(ref_text);
    ok = false;
  }
  return ok;
}

std::vector<std::string> LlamaTexts() {
  std::ifstream in(TestData("tokenizers/llama_spm/vectors.jsonl"));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line)["text"]);
  }
  return out;
}

TEST(SpmCrossCheckTest, LlamaVocabularyAndSpecialIds) {
  auto p = LoadBoth(LlamaModelBytes());
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->ours.piece_size(), p->ref->piece_size());
  EXPECT_EQ(p->ours.piece_size(), 32000);
  int same = 0;
  for (int id = 0; id < p->ours.piece_size(); ++id) {
    const std::string& piece = p->ref->IdToPiece(id);
    const bool equal =
        p->ours.IdToPiece(id) == piece && p->ours.PieceToId(piece) == p->ref->PieceToId(piece) &&
        p->ours.IsControl(id) == p->ref->IsControl(id) &&
        p->ours.IsUnknown(id) == p->ref->IsUnknown(id) &&
        p->ours.IsByte(id) == p->ref->IsByte(id) && p->ours.IsUnused(id) == p->ref->IsUnused(id);
    EXPECT_TRUE(equal) << "id " << id;
    same += equal;
  }
  EXPECT_EQ(same, 32000);
  EXPECT_EQ(p->ours.PieceToId("no such piece"), p->ref->PieceToId("no such piece"));
  EXPECT_EQ(p->ours.bos_id(), p->ref->bos_id());
  EXPECT_EQ(p->ours.eos_id(), p->ref->eos_id());
  EXPECT_EQ(p->ours.unk_id(), p->ref->unk_id());
  EXPECT_EQ(p->ours.pad_id(), p->ref->pad_id());
  EXPECT_EQ(p->ours.bos_id(), 1);
  EXPECT_EQ(p->ours.eos_id(), 2);
  EXPECT_EQ(p->ours.unk_id(), 0);
  EXPECT_EQ(p->ours.pad_id(), -1);
}

TEST(SpmCrossCheckTest, LlamaVectorsAndHostileStrings) {
  auto p = LoadBoth(LlamaModelBytes());
  ASSERT_NE(p, nullptr);
  const std::vector<std::string> texts = LlamaTexts();
  ASSERT_FALSE(texts.empty());
  int vectors_equal = 0;
  for (const std::string& text : texts) vectors_equal += Agree(*p, text);
  EXPECT_EQ(vectors_equal, static_cast<int>(texts.size()));

  HostileText gen(20240611);
  int hostile_equal = 0;
  for (int i = 0; i < kHostileStrings; ++i) hostile_equal += Agree(*p, gen.Next());
  EXPECT_EQ(hostile_equal, kHostileStrings);
  std::printf("[ cross-check ] LLaMA: %d/%zu vectors and %d/%d hostile strings equal\n",
              vectors_equal, texts.size(), hostile_equal, kHostileStrings);
}

// Our DecodeIds port agrees with the library on random id sequences: control, <unk>, byte and
// normal pieces. SentencePieceTokenizer::Decode (the per-id byte table that streaming uses)
// skips special tokens first, as Hugging Face's decode(skip_special_tokens=True) does, so bytes
// on either side of a control token join into one character there; it must equal the
// library's decode of the ids without control tokens.
TEST(SpmCrossCheckTest, LlamaRandomIdsDecode) {
  auto p = LoadBoth(LlamaModelBytes());
  ASSERT_NE(p, nullptr);
  auto tok = SentencePieceTokenizer::Load(TestData("tokenizers/llama_spm/tokenizer.model"));
  ASSERT_TRUE(tok.ok()) << tok.status();
  HostileText gen(7);
  int equal = 0;
  constexpr int kSequences = 3000;
  for (int i = 0; i < kSequences; ++i) {
    std::vector<int> ids(gen.Uniform(0, 12));
    for (int& id : ids) {
      const int kind = gen.Uniform(0, 3);
      id = kind == 0 ? gen.Uniform(0, 2)                 // <unk>, <s>, </s>
                     : (kind == 1 ? gen.Uniform(3, 258)  // byte pieces
                                  : gen.Uniform(259, 31999));
    }
    std::string ref_text, ref_skipped, error;
    ASSERT_TRUE(p->ref->Decode(ids, &ref_text, &error)) << error;
    std::vector<int> no_control;
    for (int id : ids) {
      if (!p->ref->IsControl(id)) no_control.push_back(id);
    }
    ASSERT_TRUE(p->ref->Decode(no_control, &ref_skipped, &error)) << error;
    auto ours = p->ours.Decode(ids);
    auto streamed = (*tok)->Decode(ids);
    ASSERT_TRUE(ours.ok() && streamed.ok());
    EXPECT_EQ(*ours, ref_text) << ::testing::PrintToString(ids);
    EXPECT_EQ(*streamed, ref_skipped) << ::testing::PrintToString(ids);
    equal += *ours == ref_text && *streamed == ref_skipped;
  }
  EXPECT_EQ(equal, kSequences);
  std::printf("[ cross-check ] LLaMA: %d/%d random id sequences decode equal\n", equal, kSequences);
  EXPECT_FALSE(p->ours.Decode({32000}).ok());
  EXPECT_FALSE(p->ours.Decode({-1}).ok());
}

// LLaMA's model with options switched, so that the paths it does not use are checked too.
struct Variant {
  const char* name;
  void (*apply)(SpmModelProto*);
};

void NoByteFallback(SpmModelProto* m) {
  m->trainer_spec.byte_fallback = false;
  // Byte pieces are only allowed with byte_fallback: keep their ids as NORMAL pieces.
  for (auto& p : m->pieces) {
    if (p.type == SpmPieceType::kByte) p.type = SpmPieceType::kNormal;
  }
}

void SomeUnused(SpmModelProto* m) {
  for (size_t i = 259; i < m->pieces.size(); i += 5) {
    if (m->pieces[i].type == SpmPieceType::kNormal) m->pieces[i].type = SpmPieceType::kUnused;
  }
}

void UserDefined(SpmModelProto* m) {
  for (const char* s : {"<img>", "\xe2\x96\x81\xe2\x96\x81", "ab", "\xf0\x9f\x99\x82", "a b",
                        "\n\n", "\xe2\x96\x81the", "<s>x", "1234"}) {
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

const Variant kVariants[] = {
    {"no_byte_fallback", NoByteFallback},
    {"remove_extra_whitespaces",
     [](SpmModelProto* m) { m->normalizer_spec.remove_extra_whitespaces = true; }},
    {"no_dummy_prefix", [](SpmModelProto* m) { m->normalizer_spec.add_dummy_prefix = false; }},
    {"no_escape_whitespaces",
     [](SpmModelProto* m) { m->normalizer_spec.escape_whitespaces = false; }},
    {"whitespace_as_suffix",
     [](SpmModelProto* m) { m->trainer_spec.treat_whitespace_as_suffix = true; }},
    {"unused_pieces", SomeUnused},
    {"user_defined", UserDefined},
    {"everything",
     [](SpmModelProto* m) {
       NoByteFallback(m);
       SomeUnused(m);
       UserDefined(m);
       m->normalizer_spec.remove_extra_whitespaces = true;
       m->trainer_spec.unk_surface = "[?]";
       m->trainer_spec.bos_piece = "<unk>";  // not CONTROL: bos_id() is -1
     }},
};

TEST(SpmCrossCheckTest, ModelVariants) {
  auto base = ParseSpmModelProto(LlamaModelBytes());
  ASSERT_TRUE(base.ok()) << base.status();
  for (const Variant& v : kVariants) {
    SpmModelProto proto = *base;
    v.apply(&proto);
    auto p = LoadBoth(SerializeSpmModelProto(proto));
    ASSERT_NE(p, nullptr) << v.name;
    EXPECT_EQ(p->ours.bos_id(), p->ref->bos_id()) << v.name;
    EXPECT_EQ(p->ours.unk_id(), p->ref->unk_id()) << v.name;
    for (int id = 0; id < p->ours.piece_size(); ++id) {
      ASSERT_EQ(p->ours.IsUnused(id), p->ref->IsUnused(id)) << v.name << " " << id;
    }
    int equal = 0, total = 0;
    for (const std::string& text : LlamaTexts()) {
      equal += Agree(*p, text);
      ++total;
    }
    HostileText gen(99);
    for (int i = 0; i < 600; ++i) {
      equal += Agree(*p, gen.Next());
      ++total;
    }
    EXPECT_EQ(equal, total) << v.name;
    std::printf("[ cross-check ] variant %s: %d/%d equal\n", v.name, equal, total);
  }
}

// Timing on a few MB: line by line (the serving case) and as one long text (the merge loop
// must stay O(n log n)). Printed, not asserted: the machine is shared.
TEST(SpmCrossCheckTest, SpeedAgainstLibrary) {
  auto p = LoadBoth(LlamaModelBytes());
  ASSERT_NE(p, nullptr);
  std::vector<std::string> words;
  for (int id = 259; id < p->ours.piece_size(); ++id) {
    words.push_back(absl::StrReplaceAll(p->ours.IdToPiece(id), {{"\xe2\x96\x81", ""}}));
  }
  HostileText gen(3);
  std::vector<std::string> lines;
  size_t total = 0;
  while (total < (4u << 20)) {
    lines.push_back(gen.Prose(words, static_cast<size_t>(gen.Uniform(20, 2000))));
    if (gen.Uniform(0, 9) == 0) lines.back() += gen.Next();
    total += lines.back().size();
  }
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };

  size_t ours_count = 0, ref_count = 0;
  std::vector<std::vector<int>> ours_ids, ref_ids;
  const auto t0 = Clock::now();
  for (const auto& line : lines) ours_ids.push_back(*p->ours.Encode(line));
  const auto t1 = Clock::now();
  std::string error;
  for (const auto& line : lines) {
    ref_ids.emplace_back();
    p->ref->Encode(line, &ref_ids.back(), &error);
  }
  const auto t2 = Clock::now();
  for (size_t i = 0; i < lines.size(); ++i) {
    ours_count += ours_ids[i].size();
    ref_count += ref_ids[i].size();
  }
  EXPECT_TRUE(ours_ids == ref_ids);
  ASSERT_EQ(ours_count, ref_count);
  std::printf(
      "[ speed ] %zu lines, %.1f MB, %zu tokens: ours %.3f s, libsentencepiece %.3f s, "
      "ours/lib = %.2f\n",
      lines.size(), total / 1048576.0, ours_count, seconds(t1 - t0), seconds(t2 - t1),
      seconds(t1 - t0) / seconds(t2 - t1));

  // One text of ~1 MB, and a 1 MB word without spaces.
  for (const std::string& text : {gen.Prose(words, 1u << 20), std::string(1u << 20, 'a')}) {
    const auto a = Clock::now();
    auto ours = p->ours.Encode(text);
    const auto b = Clock::now();
    std::vector<int> ref;
    p->ref->Encode(text, &ref, &error);
    const auto c = Clock::now();
    ASSERT_TRUE(ours.ok());
    EXPECT_TRUE(*ours == ref);
    std::printf(
        "[ speed ] one text of %.1f MB, %zu tokens: ours %.3f s, libsentencepiece %.3f s, "
        "ours/lib = %.2f\n",
        text.size() / 1048576.0, ours->size(), seconds(b - a), seconds(c - b),
        seconds(b - a) / seconds(c - b));
  }
}

}  // namespace
}  // namespace lmeye
