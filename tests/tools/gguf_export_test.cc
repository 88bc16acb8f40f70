// lmeye export-gguf: the file is read back by a reader written from the GGUF v3 layout (header,
// key/value pairs, tensor infos, 32-byte aligned data) and checked against the checkpoint: names,
// shapes innermost first, types, bytes; q/k rows in llama.cpp's RoPE layout (proved by the
// attention scores, not by restating the permutation); Q8_0 within its error bound.
#include "model/tools/gguf_export.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/io/checkpoint.h"
#include "model/tools/gguf_llama_names.h"
#include "model/tools/gguf_quant.h"
#include "model/tools/init_model.h"
#include "tests/common/scratch_dir.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::ScratchDir;
using ::lmeye::testing::TestData;
using ::testing::HasSubstr;

// A GGUF file parsed back. Scalars keep their type; arrays their element type and count.
struct GgufValue {
  uint32_t type = 0;
  uint64_t u = 0;  // integer and bool scalars
  float f = 0;
  std::string s;
  uint32_t array_type = 0;
  std::vector<std::string> strings;
  std::vector<float> floats;
  std::vector<int32_t> ints;
};
struct GgufTensor {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
};
struct GgufFile {
  uint32_t version = 0;
  std::map<std::string, GgufValue> kv;
  std::vector<GgufTensor> tensors;
  uint64_t data_start = 0;
  std::string bytes;
  const char* Data(const GgufTensor& t) const { return bytes.data() + data_start + t.offset; }
};

class Reader {
 public:
  explicit Reader(const std::string& b) : b_(b) {}
  template <typename T>
  T Get() {
    T v;
    EXPECT_LE(pos_ + sizeof(T), b_.size());
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string String() {
    const uint64_t n = Get<uint64_t>();
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& b_;
  size_t pos_ = 0;
};

GgufFile ReadGguf(const std::string& path) {
  GgufFile f;
  f.bytes = ReadFileToString(path).value();
  Reader r(f.bytes);
  EXPECT_EQ(f.bytes.substr(0, 4), "GGUF");
  r.Get<uint32_t>();
  f.version = r.Get<uint32_t>();
  const uint64_t n_tensors = r.Get<uint64_t>();
  const uint64_t n_kv = r.Get<uint64_t>();
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = r.String();
    GgufValue v;
    v.type = r.Get<uint32_t>();
    switch (v.type) {
      case 4:  // uint32
        v.u = r.Get<uint32_t>();
        break;
      case 6:
        v.f = r.Get<float>();
        break;
      case 7:
        v.u = r.Get<uint8_t>();
        break;
      case 8:
        v.s = r.String();
        break;
      case 9: {
        v.array_type = r.Get<uint32_t>();
        const uint64_t n = r.Get<uint64_t>();
        for (uint64_t j = 0; j < n; ++j) {
          if (v.array_type == 8) v.strings.push_back(r.String());
          if (v.array_type == 6) v.floats.push_back(r.Get<float>());
          if (v.array_type == 5) v.ints.push_back(r.Get<int32_t>());
        }
        EXPECT_TRUE(v.array_type == 8 || v.array_type == 6 || v.array_type == 5) << key;
        break;
      }
      default:
        ADD_FAILURE() << key << ": unexpected type " << v.type;
        return f;
    }
    EXPECT_EQ(f.kv.count(key), 0u) << key;
    f.kv[key] = v;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = r.String();
    const uint32_t n_dims = r.Get<uint32_t>();
    for (uint32_t d = 0; d < n_dims; ++d) t.ne.push_back(static_cast<int64_t>(r.Get<uint64_t>()));
    t.type = r.Get<uint32_t>();
    t.offset = r.Get<uint64_t>();
    f.tensors.push_back(t);
  }
  f.data_start = (r.pos() + 31) / 32 * 32;
  return f;
}

uint64_t TensorBytes(const GgufTensor& t) {
  uint64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  if (t.type == 0) return n * 4;
  if (t.type == 1 || t.type == 30) return n * 2;
  return n / 32 * 34;  // q8_0
}

// A tiny LLaMA (2 layers, 4 heads, 2 KV heads) with the LLaMA SentencePiece tokenizer.
class GgufExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new ScratchDir();
    InitModelOptions o;
    o.family = LlmFamily::kLlama;
    o.llm_preset = "tiny";
    o.clip_preset = "tiny";
    o.tokenizer_dir = TestData("tokenizers/llama_spm");
    o.out_dir = scratch_->Path("model");
    ASSERT_TRUE(InitModel(o).ok());
  }
  static void TearDownTestSuite() { delete scratch_; }
  static std::string Model() { return scratch_->Path("model"); }
  static GgufFile Export(GgmlType type, GgufExportReport* report = nullptr) {
    GgufExportOptions o;
    o.model_dir = Model();
    o.out = scratch_->Path(absl::StrCat("m.", GgmlTypeName(type), ".gguf"));
    o.type = type;
    absl::StatusOr<GgufExportReport> r = ExportGguf(o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (report != nullptr && r.ok()) *report = *r;
    return ReadGguf(o.out);
  }
  static at::Tensor Hf(const std::string& name) {
    return Checkpoint::Open(Model() + "/llm").value()->Load(name, at::kFloat).value();
  }
  static const GgufTensor& Find(const GgufFile& f, const std::string& name) {
    for (const GgufTensor& t : f.tensors) {
      if (t.name == name) return t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return f.tensors.front();
  }
  static at::Tensor F32(const GgufFile& f, const std::string& name) {
    const GgufTensor& t = Find(f, name);
    EXPECT_EQ(t.type, 0u);
    std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
    return at::from_blob(const_cast<char*>(f.Data(t)), shape, at::kFloat).clone();
  }
  static ScratchDir* scratch_;
};
ScratchDir* GgufExportTest::scratch_ = nullptr;

TEST_F(GgufExportTest, HeaderMetadataAndTensorInfos) {
  GgufExportReport report;
  const GgufFile f = Export(GgmlType::kF32, &report);
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.kv.at("general.architecture").s, "llama");
  EXPECT_EQ(f.kv.at("general.alignment").u, 32u);
  EXPECT_EQ(f.kv.at("llama.embedding_length").u, 64u);
  EXPECT_EQ(f.kv.at("llama.block_count").u, 2u);
  EXPECT_EQ(f.kv.at("llama.feed_forward_length").u, 128u);
  EXPECT_EQ(f.kv.at("llama.attention.head_count").u, 4u);
  EXPECT_EQ(f.kv.at("llama.attention.head_count_kv").u, 2u);
  EXPECT_EQ(f.kv.at("llama.rope.dimension_count").u, 16u);
  EXPECT_EQ(f.kv.at("llama.context_length").u, 2048u);
  EXPECT_FLOAT_EQ(f.kv.at("llama.attention.layer_norm_rms_epsilon").f, 1e-6f);
  EXPECT_FLOAT_EQ(f.kv.at("llama.rope.freq_base").f, 10000.0f);
  EXPECT_EQ(f.kv.at("llama.attention.layer_norm_rms_epsilon").type, 6u);  // float32, as llama.cpp
  // The LLaMA SentencePiece vocabulary: 32000 pieces, the model's 32000 rows.
  const GgufValue& tokens = f.kv.at("tokenizer.ggml.tokens");
  EXPECT_EQ(f.kv.at("tokenizer.ggml.model").s, "llama");
  ASSERT_EQ(tokens.strings.size(), 32000u);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.scores").floats.size(), 32000u);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.token_type").ints.size(), 32000u);
  EXPECT_EQ(tokens.strings[0], "<unk>");
  EXPECT_EQ(tokens.strings[1], "<s>");
  EXPECT_EQ(tokens.strings[3], "<0x00>");
  EXPECT_EQ(f.kv.at("tokenizer.ggml.token_type").ints[1], 3);  // control
  EXPECT_EQ(f.kv.at("tokenizer.ggml.token_type").ints[3], 6);  // byte
  EXPECT_EQ(f.kv.at("tokenizer.ggml.bos_token_id").u, 1u);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.eos_token_id").u, 2u);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.add_bos_token").u, 1u);

  // llama.cpp's names and order; shapes innermost first; data 32-byte aligned, back to back.
  ASSERT_EQ(f.tensors.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(report.n_tensors, 21);
  EXPECT_EQ(f.tensors[0].name, "token_embd.weight");
  EXPECT_EQ(f.tensors[1].name, "blk.0.attn_norm.weight");
  EXPECT_EQ(f.tensors[2].name, "blk.0.attn_q.weight");
  EXPECT_EQ(f.tensors[19].name, "output_norm.weight");
  EXPECT_EQ(f.tensors[20].name, "output.weight");
  EXPECT_EQ(f.tensors[0].ne, (std::vector<int64_t>{64, 32000}));
  EXPECT_EQ(Find(f, "blk.1.attn_k.weight").ne, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(Find(f, "blk.1.ffn_down.weight").ne, (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(f.data_start % 32, 0u);
  uint64_t next = 0;
  for (const GgufTensor& t : f.tensors) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(t.offset, next) << t.name;
    next = (t.offset + TensorBytes(t) + 31) / 32 * 32;
  }
  EXPECT_EQ(f.bytes.size(), f.data_start + next);
  EXPECT_EQ(report.file_bytes, f.bytes.size());
  // Everything but token_embd, plus one of its rows.
  EXPECT_EQ(report.weight_bytes_per_token, next - 32000 * 64 * 4 + 64 * 4);

  EXPECT_TRUE(at::equal(F32(f, "token_embd.weight"), Hf("model.embed_tokens.weight")));
  EXPECT_TRUE(
      at::equal(F32(f, "blk.1.ffn_gate.weight"), Hf("model.layers.1.mlp.gate_proj.weight")));
  EXPECT_TRUE(at::equal(F32(f, "output.weight"), Hf("lm_head.weight")));
  EXPECT_TRUE(
      at::equal(F32(f, "blk.0.attn_norm.weight"), Hf("model.layers.0.input_layernorm.weight")));
}

// HF LLaMA's RoPE (rotate_half: dimension i pairs with i + d/2) on HF's q/k rows gives the same
// attention scores as llama.cpp's LLaMA RoPE (adjacent pairs 2i, 2i + 1, same frequencies) on
// the exported rows, for every head: the exported layout is the one llama.cpp computes with.
TEST_F(GgufExportTest, RopeLayoutGivesHfAttentionScores) {
  const GgufFile f = Export(GgmlType::kF32);
  const int64_t d = 16, n_heads = 4, n_kv = 2;
  at::manual_seed(1);
  const at::Tensor x = at::randn({5, 64});  // 5 positions
  const at::Tensor pos = at::arange(5, at::kFloat).view({5, 1});
  const at::Tensor inv_freq = at::pow(10000.0, -at::arange(0, d, 2, at::kFloat) / d);  // [d/2]
  const at::Tensor angle = pos * inv_freq;                                             // [5, d/2]
  auto rope_hf = [&](const at::Tensor& h) {  // [5, heads, d]
    at::Tensor c = at::cat({angle.cos(), angle.cos()}, -1).unsqueeze(1);
    at::Tensor s = at::cat({angle.sin(), angle.sin()}, -1).unsqueeze(1);
    at::Tensor rot = at::cat({-h.slice(-1, d / 2), h.slice(-1, 0, d / 2)}, -1);
    return h * c + rot * s;
  };
  auto rope_ggml = [&](const at::Tensor& h) {  // adjacent pairs
    at::Tensor p = h.view({5, h.size(1), d / 2, 2});
    at::Tensor a = p.select(-1, 0), b = p.select(-1, 1);
    at::Tensor c = angle.cos().unsqueeze(1), s = angle.sin().unsqueeze(1);
    return at::stack({a * c - b * s, a * s + b * c}, -1).view({5, h.size(1), d});
  };
  auto scores = [&](const at::Tensor& wq, const at::Tensor& wk, bool hf) {
    at::Tensor q = at::matmul(x, wq.t()).view({5, n_heads, d});
    at::Tensor k = at::matmul(x, wk.t()).view({5, n_kv, d});
    q = hf ? rope_hf(q) : rope_ggml(q);
    k = hf ? rope_hf(k) : rope_ggml(k);
    k = k.repeat_interleave(n_heads / n_kv, 1);
    return at::einsum("qhd,khd->hqk", {q, k});
  };
  for (int layer = 0; layer < 2; ++layer) {
    const std::string hf = absl::StrCat("model.layers.", layer, ".self_attn.");
    const std::string blk = absl::StrCat("blk.", layer, ".");
    const at::Tensor expected =
        scores(Hf(hf + "q_proj.weight"), Hf(hf + "k_proj.weight"), /*hf=*/true);
    const at::Tensor got =
        scores(F32(f, blk + "attn_q.weight"), F32(f, blk + "attn_k.weight"), /*hf=*/false);
    EXPECT_TRUE(at::allclose(got, expected, 1e-4, 1e-4)) << (got - expected).abs().max();
    // Without the permutation the scores differ: the check has teeth.
    const at::Tensor unpermuted =
        scores(Hf(hf + "q_proj.weight"), Hf(hf + "k_proj.weight"), /*hf=*/false);
    EXPECT_FALSE(at::allclose(unpermuted, expected, 1e-2, 1e-2));
  }
}

TEST_F(GgufExportTest, HalfTypesKeepNormsF32) {
  for (GgmlType type : {GgmlType::kF16, GgmlType::kBF16}) {
    const GgufFile f = Export(type);
    const at::ScalarType dtype = type == GgmlType::kF16 ? at::kHalf : at::kBFloat16;
    const GgufTensor& up = Find(f, "blk.0.ffn_up.weight");
    EXPECT_EQ(up.type, static_cast<uint32_t>(type));
    const at::Tensor got = at::from_blob(const_cast<char*>(f.Data(up)), {128, 64}, dtype);
    EXPECT_TRUE(at::equal(got, Hf("model.layers.0.mlp.up_proj.weight").to(dtype)));
    EXPECT_EQ(Find(f, "blk.0.ffn_norm.weight").type, 0u);
    EXPECT_EQ(Find(f, "output_norm.weight").type, 0u);
    EXPECT_EQ(f.kv.at("general.file_type").u, type == GgmlType::kF16 ? 1u : 32u);
  }
}

// Q8_0: per block of 32, |x - d q| <= d / 2 with the float32 d, plus the fp16 rounding of the
// stored d (relative 2^-11) times |q| <= 127.
TEST_F(GgufExportTest, Q8_0WithinItsErrorBound) {
  const GgufFile f = Export(GgmlType::kQ8_0);
  EXPECT_EQ(f.kv.at("general.file_type").u, 7u);
  for (const char* name : {"blk.0.attn_v.weight", "token_embd.weight", "output.weight"}) {
    const GgufTensor& t = Find(f, name);
    ASSERT_EQ(t.type, 8u);
  }
  const GgufTensor& v = Find(f, "blk.0.attn_v.weight");
  const at::Tensor hf = Hf("model.layers.0.self_attn.v_proj.weight").contiguous();  // [32, 64]
  at::Tensor deq = at::empty({32, 64});
  DequantizeQ8_0(reinterpret_cast<const uint8_t*>(f.Data(v)), 32 * 64, deq.data_ptr<float>());
  const at::Tensor amax = hf.view({-1, 32}).abs().amax(1, true);
  const at::Tensor bound = amax / 127 * 0.5 + amax * std::ldexp(1.0, -11) + 1e-12;
  const at::Tensor err = (deq - hf).view({-1, 32}).abs();
  EXPECT_TRUE((err <= bound).all().item<bool>()) << (err - bound).max();
  EXPECT_GT(err.max().item<float>(), 0.0f);  // really quantized
}

TEST(GgufQuantTest, Q8_0BlockByHand) {
  std::vector<float> x(32, 0.0f);
  x[0] = 63.5f;    // d = 0.5
  x[1] = -32.25f;  // q = -64.5 rounds away from zero (ggml's roundf), not to even
  x[2] = 0.2f;     // q = 0.4 -> 0
  std::vector<uint8_t> out(34);
  QuantizeQ8_0(x.data(), 32, out.data());
  c10::Half d;
  std::memcpy(&d.x, out.data(), 2);
  EXPECT_EQ(static_cast<float>(d), 0.5f);
  EXPECT_EQ(static_cast<int8_t>(out[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(out[3]), -65);
  EXPECT_EQ(static_cast<int8_t>(out[4]), 0);
  std::vector<float> zeros(32, 0.0f);
  QuantizeQ8_0(zeros.data(), 32, out.data());
  EXPECT_EQ(out, std::vector<uint8_t>(34, 0));
}

TEST(GgufWriterTest, RefusesPartialBlocksAndDuplicates) {
  GgufWriter w;
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kQ8_0, {48, 2}).ok());
  EXPECT_TRUE(w.AddTensor("a", GgmlType::kQ8_0, {64, 2}).ok());
  EXPECT_FALSE(w.AddTensor("a", GgmlType::kF32, {3}).ok());
  EXPECT_FALSE(ParseGgmlType("q4_0").ok());
}

TEST(GgufExportErrorsTest, NotALlama) {
  ScratchDir scratch;
  GgufExportOptions o;
  o.model_dir = TestData("models/lmeye-tiny-opt");
  o.out = scratch.Path("x.gguf");
  absl::StatusOr<GgufExportReport> r = ExportGguf(o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("LLaMA"));
  EXPECT_FALSE(FileExists(o.out));
}

}  // namespace
}  // namespace lmeye
