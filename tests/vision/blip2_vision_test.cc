// The BLIP-2 vision tower against the lingcloud-blip2-tiny goldens (float32, transformers 4.29
// semantics; model/common/golden_tolerance.h's rule), batch independence, loading errors and
// random weights at a given config.
#include "model/vision/blip2_vision.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "tests/vision/blip2_fixture.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A copy of blip2/model.safetensors without `drop`, with `reshape` replaced by a [1] tensor.
std::unique_ptr<Checkpoint> EditedCheckpoint(const std::string& name, const std::string& drop,
                                             const std::string& reshape = "") {
  auto file = SafetensorsFile::Open(testing::Blip2Dir() + "/model.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& e : (*file)->entries()) {
    if (e.name == drop) continue;
    tensors.emplace_back(e.name, e.name == reshape ? at::zeros({1}) : *(*file)->Load(e.name));
  }
  const std::string path = ::testing::TempDir() + "/" + name + ".safetensors";
  absl::Status s = WriteSafetensors(path, tensors);
  EXPECT_TRUE(s.ok()) << s;
  auto ckpt = Checkpoint::OpenFile(path);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  return ckpt.ok() ? *std::move(ckpt) : nullptr;
}

TEST(Blip2VisionTest, MatchesGoldens) {
  auto tower = Blip2VisionTower::Load(testing::Blip2Dir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  for (const testing::Blip2Sample& s : testing::Blip2Samples()) {
    at::Tensor pixels = testing::Blip2Golden(s.name + ".pixel_values").unsqueeze(0);
    auto out = (*tower)->Forward(pixels);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->last_hidden_state.sizes(), (std::vector<int64_t>{1, 17, 48}));
    testing::ExpectMatchesGolden(s.name + ".vision.last_hidden_state", out->last_hidden_state[0],
                                 testing::Blip2Golden(s.name + ".vision.last_hidden_state"));
    testing::ExpectMatchesGolden(s.name + ".vision.pooler_output", out->pooler_output[0],
                                 testing::Blip2Golden(s.name + ".vision.pooler_output"));
  }
}

TEST(Blip2VisionTest, BatchEqualsSingles) {
  auto tower = Blip2VisionTower::Load(testing::Blip2Dir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  at::Tensor a = testing::Blip2Golden("s0.pixel_values");
  at::Tensor b = testing::Blip2Golden("s1.pixel_values");
  auto batch = (*tower)->Forward(at::stack({a, b}));
  ASSERT_TRUE(batch.ok()) << batch.status();
  double worst = 0;
  for (int64_t i = 0; i < 2; ++i) {
    auto one = (*tower)->Forward((i == 0 ? a : b).unsqueeze(0));
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_TRUE(testing::MatchesGolden(batch->last_hidden_state[i], one->last_hidden_state[0]))
        << i;
    worst = std::max(worst,
                     testing::MaxAbsDiff(batch->last_hidden_state[i], one->last_hidden_state[0]));
  }
  // transformers itself: 9.5e-7 (golden.json checks.batch_vs_single_vision_last_hidden_state).
  std::printf("batch of 2 vs singles: max abs diff %.3g\n", worst);
}

// docs/STYLE.md 3: the module tree is the checkpoint's vision_model.* table, no more, no less.
TEST(Blip2VisionTest, ModuleNamesAreTheCheckpointKeys) {
  auto tower = Blip2VisionTower::Load(testing::Blip2Dir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  std::set<std::string> names;
  for (const auto& p : (*tower)->module()->named_parameters()) {
    names.insert("vision_model." + p.key());
    EXPECT_FALSE(p.value().requires_grad()) << p.key();
  }
  auto file = SafetensorsFile::Open(testing::Blip2Dir() + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::set<std::string> keys;
  for (const auto& e : (*file)->entries()) {
    if (e.name.rfind("vision_model.", 0) == 0) keys.insert(e.name);
  }
  EXPECT_EQ(names, keys);
}

TEST(Blip2VisionTest, MissingAndMisshapedTensorsAreNamed) {
  auto config = LoadBlip2Config(testing::Blip2Dir());
  ASSERT_TRUE(config.ok()) << config.status();
  auto missing =
      EditedCheckpoint("blip2_no_v_bias", "vision_model.encoder.layers.1.self_attn.v_bias");
  ASSERT_NE(missing, nullptr);
  auto tower = Blip2VisionTower::Load(config->vision, *missing);
  ASSERT_FALSE(tower.ok());
  EXPECT_EQ(tower.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tower.status().message()),
              HasSubstr("missing tensors: vision_model.encoder.layers.1.self_attn.v_bias"));

  auto misshaped =
      EditedCheckpoint("blip2_bad_pos", "", "vision_model.embeddings.position_embedding");
  ASSERT_NE(misshaped, nullptr);
  tower = Blip2VisionTower::Load(config->vision, *misshaped);
  ASSERT_FALSE(tower.ok());
  EXPECT_THAT(std::string(tower.status().message()),
              HasSubstr("vision_model.embeddings.position_embedding (checkpoint [1], model "
                        "[1,17,48])"));

  // Other parts' tensors are not the vision tower's business.
  auto no_qformer = EditedCheckpoint("blip2_no_query_tokens", "query_tokens");
  ASSERT_NE(no_qformer, nullptr);
  EXPECT_TRUE(Blip2VisionTower::Load(config->vision, *no_qformer).ok());
}

TEST(Blip2VisionTest, RejectsBadPixelValues) {
  auto tower = Blip2VisionTower::Load(testing::Blip2Dir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto out = (*tower)->Forward(at::zeros({1, 3, 32, 31}));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("[1, 3, 32, 31]"));
  EXPECT_FALSE((*tower)->Forward(at::Tensor()).ok());
  EXPECT_FALSE((*tower)->Forward(at::zeros({1, 3, 32, 32}, at::kLong)).ok());
}

TEST(Blip2VisionTest, Bfloat16ComputeStaysClose) {
  // LMEye's demo casts the model to bfloat16; weights are converted on load.
  Blip2RuntimeOptions options;
  options.dtype = at::kBFloat16;
  auto tower = Blip2VisionTower::Load(testing::Blip2Dir(), options);
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto out = (*tower)->Forward(testing::Blip2Golden("s0.pixel_values").unsqueeze(0));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->last_hidden_state.scalar_type(), at::kBFloat16);
  const at::Tensor golden = testing::Blip2Golden("s0.vision.last_hidden_state");
  const double diff = testing::MaxAbsDiff(out->last_hidden_state[0], golden);
  std::printf("bfloat16 s0.vision.last_hidden_state: max abs diff %.3g\n", diff);
  // bfloat16 keeps 8 bits of mantissa: a few 1e-2 on values of magnitude ~3.
  EXPECT_TRUE(testing::MatchesGolden(out->last_hidden_state[0], golden, {}, 3e-2));
}

// Not run by default: the EVA ViT-g/14 of the released BLIP-2 at random weights (~1B parameters,
// 4 GB in float32), for a forward time at the real shape:
//   blip2_vision_test --gtest_also_run_disabled_tests --gtest_filter='*EvaVitG*'
TEST(Blip2VisionTest, DISABLED_EvaVitGForwardTime) {
  const Blip2VisionConfig config;  // the defaults are EVA ViT-g/14
  auto tower = Blip2VisionTower::CreateRandom(config, {}, 7);
  ASSERT_TRUE(tower.ok()) << tower.status();
  at::Tensor pixels = at::randn({1, 3, 224, 224});
  ASSERT_TRUE((*tower)->Forward(pixels).ok());  // warm-up
  const auto start = std::chrono::steady_clock::now();
  auto out = (*tower)->Forward(pixels);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->last_hidden_state.sizes(), (std::vector<int64_t>{1, 257, 1408}));
  EXPECT_TRUE(out->last_hidden_state.isfinite().all().item<bool>());
  std::printf("EVA ViT-g/14 forward, batch 1, %d threads: %.2f s\n", at::get_num_threads(),
              seconds);
}

TEST(Blip2VisionTest, CreateRandomRuns) {
  Blip2VisionConfig config;
  config.hidden_size = 64;
  config.intermediate_size = 128;
  config.n_layers = 3;
  config.n_heads = 4;
  config.image_size = 28;
  config.patch_size = 14;
  auto tower = Blip2VisionTower::CreateRandom(config, {}, 1234);
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto out = (*tower)->Forward(at::randn({2, 3, 28, 28}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->last_hidden_state.sizes(), (std::vector<int64_t>{2, 5, 64}));
  EXPECT_EQ(out->pooler_output.sizes(), (std::vector<int64_t>{2, 64}));
  EXPECT_TRUE(out->last_hidden_state.isfinite().all().item<bool>());
  // Same seed, same weights.
  auto again = Blip2VisionTower::CreateRandom(config, {}, 1234);
  ASSERT_TRUE(again.ok()) << again.status();
  at::Tensor x = at::randn({1, 3, 28, 28});
  EXPECT_TRUE((*tower)->Forward(x)->pooler_output.equal((*again)->Forward(x)->pooler_output));

  config.n_heads = 5;  // does not divide 64
  auto bad = Blip2VisionTower::CreateRandom(config, {}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("vision_config.num_attention_heads"));
}

}  // namespace
}  // namespace lmeye
