// The BLIP-2 Q-Former and language_projection against the lingcloud-blip2-tiny goldens (float32,
// transformers 4.29 semantics): Q-Former output from the golden image embeddings and end to end
// from pixel_values, language_model_inputs with LingCloud's re-trained projection from
// lmeye_checkpoint.pth, batch independence, the text feed-forward accepted unused, load errors,
// random weights.
#include "model/vision/qformer.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/io/safetensors.h"
#include "model/vision/blip2_projection.h"
#include "model/vision/blip2_vision.h"
#include "tests/vision/blip2_fixture.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

// blip2/model.safetensors after `edit`, as a checkpoint file under TempDir.
std::unique_ptr<Checkpoint> EditedCheckpoint(const std::string& name,
                                             const std::function<void(TensorList&)>& edit) {
  auto file = SafetensorsFile::Open(testing::Blip2Dir() + "/model.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  TensorList tensors;
  for (const auto& e : (*file)->entries()) tensors.emplace_back(e.name, *(*file)->Load(e.name));
  edit(tensors);
  const std::string path = ::testing::TempDir() + "/" + name + ".safetensors";
  absl::Status s = WriteSafetensors(path, tensors);
  EXPECT_TRUE(s.ok()) << s;
  auto ckpt = Checkpoint::OpenFile(path);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status();
  return ckpt.ok() ? *std::move(ckpt) : nullptr;
}

Blip2Config FixtureConfig() {
  auto config = LoadBlip2Config(testing::Blip2Dir());
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : Blip2Config();
}

TEST(Blip2QFormerTest, MatchesGoldens) {
  auto qformer = Blip2QFormer::Load(testing::Blip2Dir());
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  EXPECT_EQ((*qformer)->n_query_tokens(), 8);
  for (const testing::Blip2Sample& s : testing::Blip2Samples()) {
    at::Tensor image = testing::Blip2Golden(s.name + ".vision.last_hidden_state").unsqueeze(0);
    auto out = (*qformer)->Forward(image);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->sizes(), (std::vector<int64_t>{1, 8, 32}));
    testing::ExpectMatchesGolden(s.name + ".qformer.last_hidden_state", (*out)[0],
                                 testing::Blip2Golden(s.name + ".qformer.last_hidden_state"));
  }
}

TEST(Blip2QFormerTest, LanguageModelInputsWithTheLingCloudProjection) {
  const Blip2Config config = FixtureConfig();
  auto vision = Blip2VisionTower::Load(testing::Blip2Dir());
  ASSERT_TRUE(vision.ok()) << vision.status();
  auto qformer = Blip2QFormer::Load(testing::Blip2Dir());
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  auto projection = Blip2LanguageProjection::LoadFromTorchFile(config, testing::LmeyePth());
  ASSERT_TRUE(projection.ok()) << projection.status();
  EXPECT_EQ((*projection)->in_features(), 32);
  EXPECT_EQ((*projection)->out_features(), 48);
  auto ckpt = Checkpoint::Open(testing::Blip2Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto base = Blip2LanguageProjection::Load(config, **ckpt);
  ASSERT_TRUE(base.ok()) << base.status();

  for (const testing::Blip2Sample& s : testing::Blip2Samples()) {
    // End to end from the pixel_values golden.
    auto image = (*vision)->Forward(testing::Blip2Golden(s.name + ".pixel_values").unsqueeze(0));
    ASSERT_TRUE(image.ok()) << image.status();
    auto q = (*qformer)->Forward(image->last_hidden_state);
    ASSERT_TRUE(q.ok()) << q.status();
    testing::ExpectMatchesGolden(s.name + ".qformer (from pixels)", (*q)[0],
                                 testing::Blip2Golden(s.name + ".qformer.last_hidden_state"));
    auto lmi = (*projection)->Forward(*q);
    ASSERT_TRUE(lmi.ok()) << lmi.status();
    const at::Tensor golden = testing::Blip2Golden(s.name + ".language_model_inputs");
    testing::ExpectMatchesGolden(s.name + ".language_model_inputs", (*lmi)[0], golden);
    // blip2/'s own projection is a different one: the .pth must be what is used.
    auto other = (*base)->Forward(*q);
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_GT(testing::MaxAbsDiff((*other)[0], golden), 1e-2) << s.name;
  }
}

TEST(Blip2QFormerTest, BatchEqualsSingles) {
  auto qformer = Blip2QFormer::Load(testing::Blip2Dir());
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  at::Tensor a = testing::Blip2Golden("s0.vision.last_hidden_state");
  at::Tensor b = testing::Blip2Golden("s2.vision.last_hidden_state");
  auto batch = (*qformer)->Forward(at::stack({a, b}));
  ASSERT_TRUE(batch.ok()) << batch.status();
  double worst = 0;
  for (int64_t i = 0; i < 2; ++i) {
    auto one = (*qformer)->Forward((i == 0 ? a : b).unsqueeze(0));
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_TRUE(testing::MatchesGolden((*batch)[i], (*one)[0])) << i;
    worst = std::max(worst, testing::MaxAbsDiff((*batch)[i], (*one)[0]));
  }
  // transformers itself: 1.3e-6 (golden.json checks.batch_vs_single_qformer_last_hidden_state).
  std::printf("batch of 2 vs singles: max abs diff %.3g\n", worst);
}

// docs/STYLE.md 3: the module tree is exactly query_tokens + the query path's qformer.* keys.
TEST(Blip2QFormerTest, ModuleNamesAreTheCheckpointKeys) {
  auto qformer = Blip2QFormer::Load(testing::Blip2Dir());
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  std::set<std::string> names;
  for (const auto& p : (*qformer)->module()->named_parameters()) {
    names.insert(p.key());
    EXPECT_FALSE(p.value().requires_grad()) << p.key();
  }
  auto file = SafetensorsFile::Open(testing::Blip2Dir() + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::set<std::string> keys;
  for (const auto& e : (*file)->entries()) {
    if (e.name == "query_tokens" || e.name.rfind("qformer.", 0) == 0) keys.insert(e.name);
  }
  EXPECT_EQ(names, keys);
}

TEST(Blip2QFormerTest, TextFeedForwardIsAcceptedUnused) {
  // Released checkpoints also carry the text-token feed-forward of every layer.
  auto ckpt = EditedCheckpoint("blip2_with_text_ffn", [](TensorList& t) {
    for (int layer = 0; layer < 2; ++layer) {
      const std::string p = "qformer.encoder.layer." + std::to_string(layer) + ".";
      t.emplace_back(p + "intermediate.dense.weight", at::ones({64, 32}));
      t.emplace_back(p + "intermediate.dense.bias", at::ones({64}));
      t.emplace_back(p + "output.dense.weight", at::ones({32, 64}));
      t.emplace_back(p + "output.dense.bias", at::ones({32}));
      t.emplace_back(p + "output.LayerNorm.weight", at::ones({32}));
      t.emplace_back(p + "output.LayerNorm.bias", at::ones({32}));
    }
  });
  ASSERT_NE(ckpt, nullptr);
  auto qformer = Blip2QFormer::Load(FixtureConfig(), *ckpt);
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  auto out = (*qformer)->Forward(testing::Blip2Golden("s1.vision.last_hidden_state").unsqueeze(0));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(
      testing::MatchesGolden((*out)[0], testing::Blip2Golden("s1.qformer.last_hidden_state")));

  // But a stray key in the query path is not silently dropped.
  auto stray = EditedCheckpoint("blip2_stray_qformer_key", [](TensorList& t) {
    t.emplace_back("qformer.encoder.layer.1.crossattention.attention.key.weight",
                   at::ones({32, 48}));
  });
  ASSERT_NE(stray, nullptr);
  auto bad = Blip2QFormer::Load(FixtureConfig(), *stray);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("unexpected tensors: qformer.encoder.layer.1.crossattention"));
}

TEST(Blip2QFormerTest, MissingTensorsAreNamed) {
  auto ckpt = EditedCheckpoint("blip2_qformer_missing", [](TensorList& t) {
    t.erase(std::remove_if(t.begin(), t.end(),
                           [](const auto& e) {
                             return e.first == "query_tokens" ||
                                    e.first ==
                                        "qformer.encoder.layer.0.crossattention.output.dense.bias";
                           }),
            t.end());
  });
  ASSERT_NE(ckpt, nullptr);
  auto qformer = Blip2QFormer::Load(FixtureConfig(), *ckpt);
  ASSERT_FALSE(qformer.ok());
  EXPECT_EQ(qformer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(qformer.status().message()), HasSubstr("query_tokens"));
  EXPECT_THAT(std::string(qformer.status().message()),
              HasSubstr("qformer.encoder.layer.0.crossattention.output.dense.bias"));
  // The projection's loader reads only its own keys.
  auto projection = Blip2LanguageProjection::Load(FixtureConfig(), *ckpt);
  EXPECT_TRUE(projection.ok()) << projection.status();
}

TEST(Blip2QFormerTest, ProjectionErrorsNameTheTensor) {
  Blip2Config config = FixtureConfig();
  // Looked up under a prefix the .pth does not have.
  auto missing = Blip2LanguageProjection::LoadFromTorchFile(config, testing::LmeyePth(), {}, "net",
                                                            "no_such_projection.");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("missing tensor no_such_projection.weight"));
  // A config whose language model is wider than the checkpoint's projection.
  config.language_hidden_size = 64;
  auto misshaped = Blip2LanguageProjection::LoadFromTorchFile(config, testing::LmeyePth());
  ASSERT_FALSE(misshaped.ok());
  EXPECT_THAT(
      std::string(misshaped.status().message()),
      HasSubstr("language_projection.weight has shape [48, 32], the config needs [64, 32]"));
  auto ckpt = Checkpoint::Open(testing::Blip2Dir());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto from_blip2 = Blip2LanguageProjection::Load(config, **ckpt);
  ASSERT_FALSE(from_blip2.ok());
  EXPECT_THAT(std::string(from_blip2.status().message()), HasSubstr("language_projection.weight"));
}

TEST(Blip2QFormerTest, RejectsBadImageEmbeds) {
  auto qformer = Blip2QFormer::Load(testing::Blip2Dir());
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  auto out = (*qformer)->Forward(at::zeros({1, 17, 32}));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("[1, 17, 32]"));
}

TEST(Blip2QFormerTest, CreateRandomRuns) {
  Blip2Config config;
  config.vision.hidden_size = 40;
  config.vision.n_heads = 4;
  config.qformer.hidden_size = 24;
  config.qformer.intermediate_size = 48;
  config.qformer.n_layers = 3;
  config.qformer.n_heads = 3;
  config.n_query_tokens = 5;
  config.language_hidden_size = 16;
  auto qformer = Blip2QFormer::CreateRandom(config, {}, 99);
  ASSERT_TRUE(qformer.ok()) << qformer.status();
  EXPECT_EQ((*qformer)->config().encoder_hidden_size, 40);  // the vision width, as HF sets it
  auto out = (*qformer)->Forward(at::randn({2, 9, 40}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->sizes(), (std::vector<int64_t>{2, 5, 24}));
  EXPECT_TRUE(out->isfinite().all().item<bool>());
  auto projection = Blip2LanguageProjection::CreateRandom(config, {}, 99);
  ASSERT_TRUE(projection.ok()) << projection.status();
  auto lmi = (*projection)->Forward(*out);
  ASSERT_TRUE(lmi.ok()) << lmi.status();
  EXPECT_EQ(lmi->sizes(), (std::vector<int64_t>{2, 5, 16}));
}

}  // namespace
}  // namespace lmeye
