// CLIP config.json parsing: the three config shapes, transformers defaults, the EOS rule, errors.
#include "model/vision/clip_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

nlohmann::json Parse(const char* text) { return nlohmann::json::parse(text); }

TEST(ClipConfigTest, VisionTowerConfig) {
  auto config = LoadClipConfig(testing::TestData("models/clip-vision-tiny"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, ClipConfigKind::kVisionTower);
  EXPECT_EQ(config->architecture, "CLIPVisionModelWithProjection");
  ASSERT_TRUE(config->vision.has_value());
  EXPECT_FALSE(config->text.has_value());
  const ClipVisionConfig& v = *config->vision;
  EXPECT_EQ(v.encoder.hidden_size, 64);
  EXPECT_EQ(v.encoder.intermediate_size, 128);
  EXPECT_EQ(v.encoder.n_layers, 2);
  EXPECT_EQ(v.encoder.n_heads, 4);
  EXPECT_EQ(v.encoder.head_dim(), 16);
  EXPECT_EQ(v.encoder.activation, ClipActivation::kQuickGelu);
  EXPECT_DOUBLE_EQ(v.encoder.layer_norm_eps, 1e-5);
  EXPECT_EQ(v.image_size, 32);
  EXPECT_EQ(v.patch_size, 8);
  EXPECT_EQ(v.n_channels, 3);
  EXPECT_EQ(v.n_patches(), 16);
  EXPECT_EQ(v.n_positions(), 17);
  EXPECT_EQ(v.projection_dim, 32);
}

TEST(ClipConfigTest, TextTowerConfigWithLegacyEos) {
  auto config = LoadClipConfig(testing::TestData("models/clip-text-tiny"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, ClipConfigKind::kTextTower);
  ASSERT_TRUE(config->text.has_value());
  EXPECT_FALSE(config->vision.has_value());
  const ClipTextConfig& t = *config->text;
  EXPECT_EQ(t.encoder.hidden_size, 48);
  EXPECT_EQ(t.encoder.intermediate_size, 96);
  EXPECT_EQ(t.encoder.n_layers, 2);
  EXPECT_EQ(t.encoder.n_heads, 4);
  EXPECT_EQ(t.vocab_size, 1000);
  EXPECT_EQ(t.max_position_embeddings, 16);
  EXPECT_EQ(t.projection_dim, 32);
  EXPECT_EQ(t.bos_token_id, 0);
  EXPECT_EQ(t.eos_token_id, 2);
  EXPECT_EQ(t.pad_token_id, 1);
  EXPECT_TRUE(t.legacy_eos());
  EXPECT_EQ(t.eos_word_id(), 999);  // vocab_size - 1
}

TEST(ClipConfigTest, FullClipModelAppliesNestedDefaults) {
  auto config = LoadClipConfig(testing::TestData("models/lmeye-tiny-opt/clip"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, ClipConfigKind::kClipModel);
  EXPECT_EQ(config->architecture, "CLIPModel");
  ASSERT_TRUE(config->vision.has_value());
  ASSERT_TRUE(config->text.has_value());
  // Written in the nested configs.
  EXPECT_EQ(config->vision->encoder.hidden_size, 64);
  EXPECT_EQ(config->vision->patch_size, 8);
  EXPECT_EQ(config->text->encoder.hidden_size, 48);
  EXPECT_EQ(config->text->vocab_size, 1000);
  EXPECT_EQ(config->text->eos_word_id(), 999);
  // Omitted there: transformers defaults.
  EXPECT_EQ(config->vision->encoder.activation, ClipActivation::kQuickGelu);
  EXPECT_EQ(config->text->encoder.activation, ClipActivation::kQuickGelu);
  EXPECT_DOUBLE_EQ(config->vision->encoder.layer_norm_eps, 1e-5);
  EXPECT_EQ(config->vision->n_channels, 3);
  EXPECT_EQ(config->text->pad_token_id, 1);
  EXPECT_EQ(config->vision->projection_dim, 32);
  EXPECT_EQ(config->text->projection_dim, 32);
}

TEST(ClipConfigTest, EmptyNestedConfigsGiveTransformersDefaults) {
  auto config = ParseClipConfig(Parse(R"({"model_type": "clip"})"));
  ASSERT_TRUE(config.ok()) << config.status();
  const ClipVisionConfig& v = *config->vision;
  EXPECT_EQ(v.encoder.hidden_size, 768);
  EXPECT_EQ(v.encoder.intermediate_size, 3072);
  EXPECT_EQ(v.encoder.n_layers, 12);
  EXPECT_EQ(v.encoder.n_heads, 12);
  EXPECT_EQ(v.image_size, 224);
  EXPECT_EQ(v.patch_size, 32);
  EXPECT_EQ(v.projection_dim, 512);
  const ClipTextConfig& t = *config->text;
  EXPECT_EQ(t.encoder.hidden_size, 512);
  EXPECT_EQ(t.encoder.intermediate_size, 2048);
  EXPECT_EQ(t.encoder.n_layers, 12);
  EXPECT_EQ(t.encoder.n_heads, 8);
  EXPECT_EQ(t.vocab_size, 49408);
  EXPECT_EQ(t.max_position_embeddings, 77);
  EXPECT_EQ(t.bos_token_id, 49406);
  EXPECT_EQ(t.eos_token_id, 49407);
  EXPECT_FALSE(t.legacy_eos());
  EXPECT_EQ(t.eos_word_id(), 49407);
  EXPECT_EQ(t.projection_dim, 512);
}

TEST(ClipConfigTest, TopLevelProjectionDimWinsInAClipModel) {
  auto config = ParseClipConfig(Parse(R"({"model_type": "clip", "projection_dim": 7,
      "text_config": {"projection_dim": 99}, "vision_config": {"projection_dim": 98}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->vision->projection_dim, 7);
  EXPECT_EQ(config->text->projection_dim, 7);
  // A tower config keeps its own.
  auto tower = ParseClipConfig(Parse(R"({"model_type": "clip_text_model", "projection_dim": 99})"));
  ASSERT_TRUE(tower.ok()) << tower.status();
  EXPECT_EQ(tower->text->projection_dim, 99);
}

TEST(ClipConfigTest, LegacyConfigDictReplacesNestedConfig) {
  // transformers expands text_config_dict with the defaults and overwrites text_config with it.
  auto config = ParseClipConfig(Parse(R"({"model_type": "clip",
      "text_config": {"hidden_size": 64, "num_attention_heads": 4, "eos_token_id": 2},
      "text_config_dict": {"hidden_size": 128, "eos_token_id": 2},
      "vision_config_dict": {"patch_size": 14, "image_size": 336}})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->text->encoder.hidden_size, 128);
  EXPECT_EQ(config->text->encoder.n_heads, 8);  // default, not text_config's 4
  EXPECT_TRUE(config->text->legacy_eos());
  EXPECT_EQ(config->text->eos_word_id(), 49407);
  EXPECT_EQ(config->vision->patch_size, 14);
  EXPECT_EQ(config->vision->n_positions(), 24 * 24 + 1);
}

TEST(ClipConfigTest, NonLegacyEosIsTheConfigValue) {
  auto config = ParseClipConfig(
      Parse(R"({"model_type": "clip_text_model", "vocab_size": 100, "eos_token_id": 5})"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->text->legacy_eos());
  EXPECT_EQ(config->text->eos_word_id(), 5);
}

TEST(ClipConfigTest, Activations) {
  for (const auto& [name, act] : std::vector<std::pair<std::string, ClipActivation>>{
           {"quick_gelu", ClipActivation::kQuickGelu},
           {"gelu", ClipActivation::kGelu},
           {"gelu_new", ClipActivation::kGeluTanh},
           {"gelu_pytorch_tanh", ClipActivation::kGeluTanh},
           {"relu", ClipActivation::kRelu}}) {
    nlohmann::json json = {{"model_type", "clip_vision_model"}, {"hidden_act", name}};
    auto config = ParseClipConfig(json);
    ASSERT_TRUE(config.ok()) << name << ": " << config.status();
    EXPECT_EQ(config->vision->encoder.activation, act) << name;
  }
  auto bad =
      ParseClipConfig(Parse(R"({"model_type": "clip_vision_model", "hidden_act": "swish"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("swish"));
}

TEST(ClipConfigTest, UnknownModelTypeOrArchitectureIsAnError) {
  auto opt = ParseClipConfig(Parse(R"({"model_type": "opt", "architectures": ["OPTForCausalLM"]})"),
                             "opt/config.json");
  ASSERT_FALSE(opt.ok());
  EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(opt.status().message(), HasSubstr("OPTForCausalLM"));
  EXPECT_THAT(opt.status().message(), HasSubstr("opt/config.json"));

  auto siglip = ParseClipConfig(Parse(R"({"model_type": "siglip_vision_model"})"));
  ASSERT_FALSE(siglip.ok());
  EXPECT_THAT(siglip.status().message(),
              HasSubstr("unsupported model_type \"siglip_vision_model\""));

  auto none = ParseClipConfig(Parse(R"({"hidden_size": 64})"));
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("model_type"));

  // No model_type: the architecture decides.
  auto old = ParseClipConfig(Parse(R"({"architectures": ["CLIPTextModel"]})"));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->kind, ClipConfigKind::kTextTower);

  EXPECT_FALSE(ParseClipConfig(Parse("[1, 2]")).ok());
}

TEST(ClipConfigTest, BadValuesAreClearErrors) {
  auto str = ParseClipConfig(Parse(R"({"model_type": "clip_vision_model", "hidden_size": "64"})"));
  ASSERT_FALSE(str.ok());
  EXPECT_THAT(str.status().message(), HasSubstr("hidden_size"));

  auto heads = ParseClipConfig(
      Parse(R"({"model_type": "clip_text_model", "hidden_size": 10, "num_attention_heads": 4})"));
  ASSERT_FALSE(heads.ok());
  EXPECT_THAT(heads.status().message(), HasSubstr("divisible"));

  auto eos = ParseClipConfig(
      Parse(R"({"model_type": "clip_text_model", "vocab_size": 10, "eos_token_id": 10})"));
  ASSERT_FALSE(eos.ok());
  EXPECT_THAT(eos.status().message(), HasSubstr("eos_token_id"));

  auto nested = ParseClipConfig(Parse(R"({"model_type": "clip", "vision_config": [1]})"));
  ASSERT_FALSE(nested.ok());
  EXPECT_THAT(nested.status().message(), HasSubstr("vision_config"));

  auto zero =
      ParseClipConfig(Parse(R"({"model_type": "clip_vision_model", "num_hidden_layers": 0})"));
  EXPECT_FALSE(zero.ok());
}

TEST(ClipConfigTest, MissingDirectoryIsNotFound) {
  auto config = LoadClipConfig(testing::TestData("models/no-such-model"));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lmeye
