// Family tables and the per-family math: every fixture checkpoint loads with no missing or extra
// tensor, a damaged checkpoint names what is wrong, ALiBi slopes (incl. non-power-of-two head
// counts) and RoPE behave as in transformers.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/llm/family_ops.h"
#include "model/llm/llm_arch.h"
#include "model/llm/llm_model.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

TEST(LlmArchTest, TablesCoverEveryFamilyInOrder) {
  ASSERT_EQ(AllLlmArchs().size(), 3u);
  EXPECT_EQ(GetLlmArch(LlmFamily::kOpt).model_type, "opt");
  EXPECT_EQ(GetLlmArch(LlmFamily::kBloom).model_type, "bloom");
  EXPECT_EQ(GetLlmArch(LlmFamily::kLlama).model_type, "llama");
  EXPECT_EQ(LayerPath("layers.%d", 7), "layers.7");
  EXPECT_EQ(LayerPath("h.%d", 12), "h.12");
}

class LlmTensorTableTest : public ::testing::TestWithParam<std::string> {};

// The model reads exactly the checkpoint's tensors: nothing missing, nothing extra (loading is
// strict, and the name sets are equal).
TEST_P(LlmTensorTableTest, FixtureCheckpointLoadsCompletely) {
  const std::string dir = TestData("models/" + GetParam());
  auto model = LlmModel::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  auto ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*model)->TensorNames(), (*ckpt)->names());
}

// Drop one layer tensor and add a stray one: both are named in the error.
TEST_P(LlmTensorTableTest, DamagedCheckpointIsAClearError) {
  const std::string dir = TestData("models/" + GetParam());
  auto config = LoadLlmConfig(dir);
  ASSERT_TRUE(config.ok());
  auto ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok());
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::string dropped;
  for (const std::string& name : (*ckpt)->names()) {
    if (dropped.empty() && name.find(".1.") != std::string::npos) {
      dropped = name;
      continue;
    }
    auto t = (*ckpt)->Load(name, at::kFloat);
    ASSERT_TRUE(t.ok());
    tensors.emplace_back(name, *t);
  }
  tensors.emplace_back("stray.weight", at::zeros({2}));
  const std::string path = ::testing::TempDir() + "/damaged-" + GetParam() + ".safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  auto damaged = Checkpoint::OpenFile(path);
  ASSERT_TRUE(damaged.ok());
  auto model = LlmModel::Load(*config, **damaged);
  ASSERT_FALSE(model.ok());
  const std::string msg(model.status().message());
  EXPECT_NE(msg.find("missing tensors: " + dropped), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected tensors: stray.weight"), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmTensorTableTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

TEST(LlmArchTest, WrongFamilyCheckpointIsAClearError) {
  auto bloom = LoadLlmConfig(TestData("models/bloom-tiny"));
  ASSERT_TRUE(bloom.ok());
  auto opt_ckpt = Checkpoint::Open(TestData("models/opt-tiny"));
  ASSERT_TRUE(opt_ckpt.ok());
  auto model = LlmModel::Load(*bloom, **opt_ckpt);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(std::string(model.status().message()).find("is not a bloom model"), std::string::npos)
      << model.status();
}

// transformers' build_alibi_tensor slopes, worked by hand from its formula.
TEST(LlmBloomOpsTest, AlibiSlopes) {
  at::Tensor s4 = AlibiSlopes(4);
  EXPECT_TRUE(at::equal(s4, at::tensor({0.25f, 0.0625f, 0.015625f, 0.00390625f})));
  at::Tensor s8 = AlibiSlopes(8);
  ASSERT_EQ(s8.size(0), 8);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h].item<float>(), std::pow(0.5f, h + 1));
  // 6 heads: 4 geometric slopes of base 2^-2, then base 2^-1 to the powers 1 and 3.
  at::Tensor s6 = AlibiSlopes(6);
  EXPECT_TRUE(at::equal(s6, at::tensor({0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f, 0.125f})));
  // 12 heads: 8 geometric slopes, then num_remaining = min(8, 4) slopes of base 2^-0.5.
  at::Tensor s12 = AlibiSlopes(12);
  ASSERT_EQ(s12.size(0), 12);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s12[h].item<float>(), std::pow(0.5f, h + 1));
  const float extra = std::pow(2.0f, -0.5f);
  for (int i = 0; i < 4; ++i) {
    EXPECT_FLOAT_EQ(s12[8 + i].item<float>(), std::pow(extra, 2 * i + 1));
  }
}

TEST(LlmBloomOpsTest, FusedQkvIsPerHeadInterleaved) {
  // 2 heads of dim 1: per head [q, k, v].
  at::Tensor qkv = at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({1, 1, 6});
  at::Tensor q, k, v;
  SplitFusedQkv(qkv, 2, 1, &q, &k, &v);
  EXPECT_TRUE(at::equal(q.reshape({-1}), at::tensor({1.f, 4.f})));
  EXPECT_TRUE(at::equal(k.reshape({-1}), at::tensor({2.f, 5.f})));
  EXPECT_TRUE(at::equal(v.reshape({-1}), at::tensor({3.f, 6.f})));
}

TEST(LlmLlamaOpsTest, RopeHalvesLayout) {
  at::Tensor inv_freq = RopeInvFreq(4, 10000.0, at::kCPU);
  EXPECT_TRUE(at::allclose(inv_freq, at::tensor({1.0f, 0.01f})));
  at::Tensor cos, sin;
  at::Tensor positions = at::tensor({0L, 1L}, at::kLong).view({1, 2});
  RopeCosSin(positions, inv_freq, 1.0, at::kFloat, &cos, &sin);
  at::Tensor x = at::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 1, 1, 4}).expand({1, 2, 1, 4});
  at::Tensor y = ApplyRope(x, cos, sin);
  // Position 0 is the identity; position 1 rotates pairs (x[i], x[i + 2]) by angle inv_freq[i].
  EXPECT_TRUE(at::allclose(y[0][0], x[0][0]));
  const float c0 = std::cos(1.0f), s0 = std::sin(1.0f), c1 = std::cos(0.01f), s1 = std::sin(0.01f);
  at::Tensor expected =
      at::tensor({1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1});
  EXPECT_TRUE(at::allclose(y[0][1][0], expected, 1e-6, 1e-6));
}

TEST(LlmBloomOpsTest, BloomGeluMatchesFormula) {
  at::Tensor x = at::linspace(-4, 4, 17);
  at::Tensor expected = x * 0.5 * (1.0 + at::tanh(0.79788456 * x * (1 + 0.044715 * x * x)));
  EXPECT_TRUE(at::equal(BloomGelu(x), expected));
  EXPECT_TRUE(at::allclose(BloomGelu(x), at::gelu(x, "tanh"), 1e-6, 1e-6));
}

}  // namespace
}  // namespace lmeye
