// Helpers for the SentencePiece tests: writing a ModelProto (to build model variants that
// exercise what LLaMA's model does not), and random hostile text.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/tokenizer/spm_model_proto.h"
#include "model/tokenizer/utf8.h"
#include "tests/common/test_data.h"

namespace lmeye::spm_testing {

inline std::string ReadBinaryFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string LlamaModelBytes() {
  return ReadBinaryFile(::lmeye::testing::TestData("tokenizers/llama_spm/tokenizer.model"));
}

// Protobuf wire format, the few encodings ModelProto uses.
class ProtoWriter {
 public:
  void Varint(int field, uint64_t v) {
    Key(field, 0);
    RawVarint(v);
  }
  void Int32(int field, int v) { Varint(field, static_cast<uint64_t>(static_cast<int64_t>(v))); }
  void Float(int field, float f) {
    Key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(bits >> (8 * i)));
  }
  void Bytes(int field, const std::string& s) {
    Key(field, 2);
    RawVarint(s.size());
    out_ += s;
  }
  const std::string& str() const { return out_; }

 private:
  void Key(int field, int wire) { RawVarint(static_cast<uint64_t>(field) << 3 | wire); }
  void RawVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string out_;
};

// Serializes the fields SpmModelProto holds (a model the reference library accepts as well).
inline std::string SerializeSpmModelProto(const SpmModelProto& m) {
  ProtoWriter model;
  for (const SpmPieceProto& p : m.pieces) {
    ProtoWriter w;
    w.Bytes(1, p.piece);
    w.Float(2, p.score);
    w.Int32(3, static_cast<int>(p.type));
    model.Bytes(1, w.str());
  }
  const SpmTrainerSpecProto& t = m.trainer_spec;
  ProtoWriter trainer;
  trainer.Int32(3, t.model_type);
  trainer.Varint(24, t.treat_whitespace_as_suffix);
  trainer.Varint(35, t.byte_fallback);
  trainer.Int32(40, t.unk_id);
  trainer.Int32(41, t.bos_id);
  trainer.Int32(42, t.eos_id);
  trainer.Int32(43, t.pad_id);
  trainer.Bytes(44, t.unk_surface);
  if (!t.unk_piece.empty()) trainer.Bytes(45, t.unk_piece);
  if (!t.bos_piece.empty()) trainer.Bytes(46, t.bos_piece);
  if (!t.eos_piece.empty()) trainer.Bytes(47, t.eos_piece);
  if (!t.pad_piece.empty()) trainer.Bytes(48, t.pad_piece);
  model.Bytes(2, trainer.str());
  const SpmNormalizerSpecProto& n = m.normalizer_spec;
  ProtoWriter norm;
  norm.Bytes(1, n.name);
  if (!n.precompiled_charsmap.empty()) norm.Bytes(2, n.precompiled_charsmap);
  norm.Varint(3, n.add_dummy_prefix);
  norm.Varint(4, n.remove_extra_whitespaces);
  norm.Varint(5, n.escape_whitespaces);
  model.Bytes(3, norm.str());
  if (!m.self_test.empty()) {
    ProtoWriter data;
    for (const SpmSelfTestSample& s : m.self_test) {
      ProtoWriter sample;
      sample.Bytes(1, s.input);
      sample.Bytes(2, s.expected);
      data.Bytes(1, sample.str());
    }
    model.Bytes(4, data.str());
  }
  return model.str();
}

// Random text built to break tokenizers: scripts, emoji sequences, white space runs, control
// characters, invalid UTF-8, strings that look like special pieces, long words.
class HostileText {
 public:
  explicit HostileText(uint32_t seed) : rng_(seed) {}

  std::string Next() {
    std::string s;
    const int parts = Uniform(1, 6);
    for (int i = 0; i < parts; ++i) AppendPart(&s);
    return s;
  }

  // Natural-looking text for timing: words from `vocabulary` with spaces and punctuation.
  std::string Prose(const std::vector<std::string>& vocabulary, size_t bytes) {
    std::string s;
    while (s.size() < bytes) {
      s += vocabulary[Uniform(0, static_cast<int>(vocabulary.size()) - 1)];
      const int r = Uniform(0, 19);
      s += r == 0 ? ". " : (r == 1 ? ", " : (r == 2 ? "\n" : " "));
    }
    return s;
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  void AppendPart(std::string* s) {
    static const std::vector<std::pair<uint32_t, uint32_t>> kRanges = {
        {0x20, 0x7E},        {0x20, 0x7E},       {0xA0, 0x24F},      {0x300, 0x36F},
        {0x370, 0x3FF},      {0x400, 0x4FF},     {0x590, 0x6FF},     {0x900, 0x97F},
        {0xE00, 0xE7F},      {0x1100, 0x11FF},   {0x2000, 0x206F},   {0x2580, 0x259F},
        {0x3000, 0x30FF},    {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},   {0xE000, 0xE0FF},
        {0xFE00, 0xFFFF},    {0x1F000, 0x1FAFF}, {0x20000, 0x2A6DF}, {0xE0000, 0xE007F},
        {0x10FF00, 0x10FFFF}};
    static const std::vector<std::string> kSnippets = {
        "<s>",
        "</s>",
        "<unk>",
        "<0x0A>",
        "<0x41>",
        "\xe2\x96\x81",
        "\xe2\x96\x81\xe2\x96\x81",
        "<img>",
        "<img-d>",
        "\xef\xbf\xbd",
        "\xe2\x81\x87",
        "\r\n",
        "\t\t",
        "   ",
        "\xc2\xa0",
        "\xe3\x80\x80",
        "\xe2\x80\x8b",
        "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",
        "\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5",
        "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
        "e\xcc\x81",
        "Hello world",
        " Hello",
        "1234567890",
        "http://example.com/a?b=c&d=e",
        "\\n",
        "\"quoted\"",
        "ab",
        "a b",
        "\n\n"};
    switch (Uniform(0, 11)) {
      case 0:
      case 1: {  // random characters from many scripts
        const int n = Uniform(1, 40);
        for (int i = 0; i < n; ++i) {
          const auto& r = kRanges[Uniform(0, static_cast<int>(kRanges.size()) - 1)];
          AppendUtf8(std::uniform_int_distribution<uint32_t>(r.first, r.second)(rng_), s);
        }
        break;
      }
      case 2: {  // white space runs
        static const std::vector<std::string> kWs = {
            " ", " ", "\t", "\n", "\r", "\v", "\f", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x96\x81"};
        const int n = Uniform(1, 12);
        for (int i = 0; i < n; ++i) *s += kWs[Uniform(0, static_cast<int>(kWs.size()) - 1)];
        break;
      }
      case 3: {  // random bytes: invalid UTF-8, NUL, overlongs, truncated sequences
        const int n = Uniform(1, 16);
        for (int i = 0; i < n; ++i) s->push_back(static_cast<char>(Uniform(0, 255)));
        break;
      }
      case 4: {  // classic malformed sequences
        static const std::vector<std::string> kBad = {"\x80",
                                                      "\xbf",
                                                      "\xc0\xaf",
                                                      "\xc1\xbf",
                                                      "\xe0\x80\xaf",
                                                      "\xed\xa0\x80",
                                                      "\xed\xbf\xbf",
                                                      "\xf4\x90\x80\x80",
                                                      "\xf5\x80\x80\x80",
                                                      "\xf8\x88\x80\x80\x80",
                                                      "\xfe",
                                                      "\xff",
                                                      "\xe2\x82",
                                                      "\xf0\x9f\x98",
                                                      "\xc3",
                                                      std::string(1, '\0')};
        *s += kBad[Uniform(0, static_cast<int>(kBad.size()) - 1)];
        break;
      }
      case 5: {  // control characters
        const int n = Uniform(1, 6);
        for (int i = 0; i < n; ++i) {
          const int r = Uniform(0, 2);
          AppendUtf8(r == 0 ? Uniform(0, 0x1F) : (r == 1 ? 0x7F : Uniform(0x80, 0x9F)), s);
        }
        break;
      }
      case 6:
      case 7:
        *s += kSnippets[Uniform(0, static_cast<int>(kSnippets.size()) - 1)];
        break;
      case 8: {  // a long word
        const int n = Uniform(50, 3000);
        const int kind = Uniform(0, 3);
        for (int i = 0; i < n; ++i) {
          if (kind == 0) s->push_back('a');
          if (kind == 1) s->push_back(static_cast<char>('a' + Uniform(0, 25)));
          if (kind == 2) s->push_back(static_cast<char>('0' + Uniform(0, 9)));
          if (kind == 3) AppendUtf8(0x4E00 + Uniform(0, 200), s);
        }
        break;
      }
      default: {  // ordinary words
        static const std::vector<std::string> kWords = {
            "the",     "The",  "quick",    "brown",      "fox",    "jumps",  "over",
            "lazy",    "dog",  "image",    "What",       "is",     "in",     "this",
            "picture", "?",    "Describe", "ASSISTANT:", "USER:",  "don't",  "I'm",
            "naïve",   "café", "Führer",   "東京",       "日本語", "한국어", "Привет"};
        const int n = Uniform(1, 8);
        for (int i = 0; i < n; ++i) {
          if (i > 0 || Uniform(0, 1) == 0) s->push_back(' ');
          *s += kWords[Uniform(0, static_cast<int>(kWords.size()) - 1)];
        }
      }
    }
  }

  std::mt19937 rng_;
};

}  // namespace lmeye::spm_testing
