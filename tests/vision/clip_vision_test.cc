// The CLIP vision tower against the Hugging Face goldens (fp32, model/common/golden_tolerance.h's
// rule), loading from a tower and from a full CLIPModel checkpoint, bf16 compute, and clear errors
// for bad checkpoints and inputs.
#include "model/vision/clip_vision.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/safetensors.h"
#include "tests/common/golden_expect.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;
using TensorList = std::vector<std::pair<std::string, at::Tensor>>;

std::string VisionDir() { return testing::TestData("models/clip-vision-tiny"); }

at::Tensor Golden(const std::string& dir, const std::string& name) {
  return testing::LoadGolden(dir, name);
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// A copy of model directory `src` (config.json as is, or `config` when given) whose
// model.safetensors holds `src`'s tensors after `edit`.
std::string EditedModelDir(const std::string& src, const std::string& name,
                           const std::function<void(TensorList&)>& edit,
                           const std::string& config = "") {
  namespace fs = std::filesystem;
  const std::string dir = ::testing::TempDir() + "/" + name;
  fs::create_directories(dir);
  if (config.empty()) {
    fs::copy_file(src + "/config.json", dir + "/config.json", fs::copy_options::overwrite_existing);
  } else {
    std::ofstream(dir + "/config.json") << config;
  }
  auto file = SafetensorsFile::Open(src + "/model.safetensors");
  EXPECT_TRUE(file.ok()) << file.status();
  TensorList tensors;
  for (const auto& e : (*file)->entries()) tensors.emplace_back(e.name, *(*file)->Load(e.name));
  edit(tensors);
  absl::Status s = WriteSafetensors(dir + "/model.safetensors", tensors);
  EXPECT_TRUE(s.ok()) << s;
  return dir;
}

TEST(ClipVisionTest, MatchesHuggingFaceGoldens) {
  auto tower = ClipVisionTower::Load(VisionDir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  EXPECT_TRUE((*tower)->has_projection());
  ClipVisionForwardOptions options;
  options.output_hidden_states = true;
  auto out = (*tower)->Forward(Golden(VisionDir(), "pixel_values"), options);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->hidden_states.size(), 3u);
  std::vector<std::pair<std::string, at::Tensor>> checks = {
      {"embeddings", out->embeddings},
      {"hidden_states.0", out->hidden_states[0]},
      {"hidden_states.1", out->hidden_states[1]},
      {"hidden_states.2", out->hidden_states[2]},
      {"last_hidden_state", out->last_hidden_state},
      {"pooler_output", out->pooler_output},
      {"image_embeds", out->image_embeds},
  };
  for (const auto& [name, actual] : checks) {
    testing::ExpectMatchesGolden("clip-vision-tiny " + name, actual, Golden(VisionDir(), name));
  }
}

// docs/STYLE.md 3: the module tree is the checkpoint's tensor table, no more and no less.
TEST(ClipVisionTest, ModuleNamesAreTheCheckpointKeys) {
  auto tower = ClipVisionTower::Load(VisionDir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  std::set<std::string> names;
  for (const auto& p : (*tower)->module()->named_parameters()) {
    names.insert(p.key());
    EXPECT_FALSE(p.value().requires_grad()) << p.key();  // frozen
  }
  auto file = SafetensorsFile::Open(VisionDir() + "/model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  std::set<std::string> keys;
  for (const auto& e : (*file)->entries()) keys.insert(e.name);
  EXPECT_EQ(names, keys);
  EXPECT_EQ(names.size(), 40u);  // golden.json weights.num_tensors
}

TEST(ClipVisionTest, HiddenStatesOnlyWhenAsked) {
  auto tower = ClipVisionTower::Load(VisionDir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto out = (*tower)->Forward(Golden(VisionDir(), "pixel_values"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(out->hidden_states.empty());
  EXPECT_EQ(out->pooler_output.sizes(), (std::vector<int64_t>{2, 64}));
}

TEST(ClipVisionTest, BatchRowsAreIndependent) {
  auto tower = ClipVisionTower::Load(VisionDir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  at::Tensor pixels = Golden(VisionDir(), "pixel_values");
  at::Tensor batch = at::cat({pixels, pixels.flip(0), pixels.slice(0, 0, 1)}, 0);  // 5 images
  auto all = (*tower)->Forward(batch);
  ASSERT_TRUE(all.ok()) << all.status();
  for (int64_t i = 0; i < batch.size(0); ++i) {
    auto one = (*tower)->Forward(batch.slice(0, i, i + 1));
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_TRUE(testing::MatchesGolden(one->image_embeds, all->image_embeds.slice(0, i, i + 1)))
        << i;
  }
}

TEST(ClipVisionTest, LoadsFromFullClipModel) {
  // The LMEye fixture's CLIPModel: text_model.*, text_projection and logit_scale are ignored.
  const std::string lmeye = testing::TestData("models/lmeye-tiny-opt");
  auto tower = ClipVisionTower::Load(lmeye + "/clip");
  ASSERT_TRUE(tower.ok()) << tower.status();
  EXPECT_TRUE((*tower)->has_projection());
  at::Tensor pixels = Golden(lmeye, "pixel_values");
  auto out = (*tower)->Forward(pixels);
  ASSERT_TRUE(out.ok()) << out.status();
  for (int64_t b = 0; b < 2; ++b) {
    const std::string s = "s" + std::to_string(b);
    EXPECT_TRUE(
        testing::MatchesGolden(out->pooler_output[b], Golden(lmeye, s + ".vision.pooler_output")))
        << s;
    EXPECT_TRUE(
        testing::MatchesGolden(out->image_embeds[b], Golden(lmeye, s + ".vision.image_embeds")))
        << s;
  }
}

TEST(ClipVisionTest, TowerWithoutProjection) {
  const std::string dir =
      EditedModelDir(VisionDir(), "clip_vision_no_projection", [](TensorList& t) {
        t.erase(std::remove_if(t.begin(), t.end(),
                               [](const auto& p) { return p.first == "visual_projection.weight"; }),
                t.end());
      });
  auto tower = ClipVisionTower::Load(dir);
  ASSERT_TRUE(tower.ok()) << tower.status();
  EXPECT_FALSE((*tower)->has_projection());
  auto out = (*tower)->Forward(Golden(VisionDir(), "pixel_values"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(out->image_embeds.defined());
  EXPECT_TRUE(testing::MatchesGolden(out->pooler_output, Golden(VisionDir(), "pooler_output")));
}

TEST(ClipVisionTest, Bf16ComputeRuns) {
  ClipRuntimeOptions options;
  options.dtype = at::kBFloat16;
  auto tower = ClipVisionTower::Load(VisionDir(), options);
  ASSERT_TRUE(tower.ok()) << tower.status();
  auto out = (*tower)->Forward(Golden(VisionDir(), "pixel_values"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->pooler_output.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::isfinite(out->image_embeds).all().item<bool>());
  // bf16 keeps ~3 significant digits; the values are O(1).
  at::Tensor golden = Golden(VisionDir(), "pooler_output");
  double diff = MaxAbsDiff(out->pooler_output, golden);
  EXPECT_LE(diff, 0.1 * golden.abs().max().item<double>());
  std::printf("clip-vision-tiny bf16 pooler_output max abs diff %.3e\n", diff);
}

TEST(ClipVisionTest, MissingTensorIsAnError) {
  const std::string dir = EditedModelDir(VisionDir(), "clip_vision_missing", [](TensorList& t) {
    t.erase(std::remove_if(t.begin(), t.end(),
                           [](const auto& p) {
                             return p.first == "vision_model.encoder.layers.1.mlp.fc2.weight";
                           }),
            t.end());
  });
  auto tower = ClipVisionTower::Load(dir);
  ASSERT_FALSE(tower.ok());
  EXPECT_EQ(tower.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tower.status().message(), HasSubstr("missing tensors"));
  EXPECT_THAT(tower.status().message(), HasSubstr("vision_model.encoder.layers.1.mlp.fc2.weight"));
}

TEST(ClipVisionTest, WrongShapeIsAnError) {
  const std::string dir = EditedModelDir(VisionDir(), "clip_vision_shape", [](TensorList& t) {
    for (auto& [name, tensor] : t) {
      if (name == "vision_model.embeddings.position_embedding.weight") {
        tensor = tensor.slice(0, 0, 16).contiguous();
      }
    }
  });
  auto tower = ClipVisionTower::Load(dir);
  ASSERT_FALSE(tower.ok());
  EXPECT_THAT(tower.status().message(), HasSubstr("shape mismatches"));
  EXPECT_THAT(tower.status().message(),
              HasSubstr("vision_model.embeddings.position_embedding.weight (checkpoint [16,64], "
                        "model [17,64])"));
}

TEST(ClipVisionTest, UnexpectedVisionTensorIsAnErrorButPositionIdsAreNot) {
  const std::string dir = EditedModelDir(VisionDir(), "clip_vision_extra", [](TensorList& t) {
    t.emplace_back("vision_model.embeddings.position_ids", at::arange(17).view({1, 17}));
    t.emplace_back("vision_model.encoder.layers.2.mlp.fc1.weight", at::zeros({2, 2}));
  });
  auto tower = ClipVisionTower::Load(dir);
  ASSERT_FALSE(tower.ok());
  EXPECT_THAT(tower.status().message(),
              HasSubstr("unexpected tensors: vision_model.encoder.layers.2.mlp.fc1.weight;"));
}

TEST(ClipVisionTest, TextConfigIsNotAVisionTower) {
  auto tower = ClipVisionTower::Load(testing::TestData("models/clip-text-tiny"));
  ASSERT_FALSE(tower.ok());
  EXPECT_EQ(tower.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tower.status().message(), HasSubstr("text tower"));
}

TEST(ClipVisionTest, NonClipConfigIsAnError) {
  auto tower = ClipVisionTower::Load(testing::TestData("models/opt-tiny"));
  ASSERT_FALSE(tower.ok());
  EXPECT_THAT(tower.status().message(), HasSubstr("unsupported"));
}

TEST(ClipVisionTest, BadPixelValuesAreErrors) {
  auto tower = ClipVisionTower::Load(VisionDir());
  ASSERT_TRUE(tower.ok()) << tower.status();
  for (const at::Tensor& bad :
       {at::zeros({2, 3, 16, 16}), at::zeros({3, 32, 32}), at::zeros({1, 1, 32, 32}),
        at::zeros({1, 3, 32, 32}, at::kLong), at::Tensor()}) {
    auto out = (*tower)->Forward(bad);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(out.status().message(), HasSubstr("pixel_values must be"));
  }
  // An empty batch is not an error.
  auto empty = (*tower)->Forward(at::zeros({0, 3, 32, 32}));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->pooler_output.size(0), 0);
}

}  // namespace
}  // namespace lmeye
