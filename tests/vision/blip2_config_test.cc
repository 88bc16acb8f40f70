// Blip2Config parsing: the fixture's config.json, transformers' defaults for absent keys, and
// errors that name the offending field.
#include "model/vision/blip2_config.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/vision/blip2_fixture.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

TEST(Blip2ConfigTest, ParsesTheFixture) {
  auto c = LoadBlip2Config(testing::Blip2Dir());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vision.hidden_size, 48);
  EXPECT_EQ(c->vision.intermediate_size, 96);
  EXPECT_EQ(c->vision.n_layers, 2);
  EXPECT_EQ(c->vision.n_heads, 4);
  EXPECT_EQ(c->vision.image_size, 32);
  EXPECT_EQ(c->vision.patch_size, 8);
  EXPECT_EQ(c->vision.n_positions(), 17);
  EXPECT_DOUBLE_EQ(c->vision.layer_norm_eps, 1e-5);
  EXPECT_TRUE(c->vision.qkv_bias);
  EXPECT_EQ(c->vision.activation, ClipActivation::kGelu);
  EXPECT_EQ(c->qformer.hidden_size, 32);
  EXPECT_EQ(c->qformer.intermediate_size, 64);
  EXPECT_EQ(c->qformer.n_layers, 2);
  EXPECT_EQ(c->qformer.n_heads, 4);
  EXPECT_EQ(c->qformer.cross_attention_frequency, 2);
  EXPECT_EQ(c->qformer.encoder_hidden_size, 48);
  EXPECT_DOUBLE_EQ(c->qformer.layer_norm_eps, 1e-12);
  EXPECT_TRUE(c->qformer.has_cross_attention(0));
  EXPECT_FALSE(c->qformer.has_cross_attention(1));
  EXPECT_EQ(c->n_query_tokens, 8);
  EXPECT_EQ(c->text_model_type, "t5");
  EXPECT_EQ(c->language_hidden_size, 48);  // text_config.d_model
}

TEST(Blip2ConfigTest, AbsentKeysTakeTransformersDefaults) {
  auto c = ParseBlip2Config(nlohmann::json::parse(R"({"model_type": "blip-2"})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->vision.hidden_size, 1408);  // EVA ViT-g/14
  EXPECT_EQ(c->vision.n_layers, 39);
  EXPECT_EQ(c->vision.n_heads, 16);
  EXPECT_EQ(c->vision.intermediate_size, 6144);
  EXPECT_EQ(c->vision.n_patches(), 256);
  EXPECT_EQ(c->qformer.hidden_size, 768);
  EXPECT_EQ(c->n_query_tokens, 32);
  EXPECT_EQ(c->text_model_type, "opt");
  EXPECT_EQ(c->language_hidden_size, 768);
  auto t5 = ParseBlip2Config(nlohmann::json::parse(R"({"text_config": {"model_type": "t5"}})"));
  ASSERT_TRUE(t5.ok()) << t5.status();
  EXPECT_EQ(t5->language_hidden_size, 512);  // T5Config().d_model
}

TEST(Blip2ConfigTest, EncoderHiddenSizeIsTheVisionWidth) {
  // Blip2Config.__init__ overwrites the nested value.
  auto c = ParseBlip2Config(nlohmann::json::parse(
      R"({"vision_config": {"hidden_size": 64, "num_attention_heads": 4},
          "qformer_config": {"encoder_hidden_size": 1408}})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->qformer.encoder_hidden_size, 64);
}

TEST(Blip2ConfigTest, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"qformer_config": {"hidden_size": "32"}})", "\"qformer_config.hidden_size\""},
      {R"({"vision_config": {"num_attention_heads": 5}})", "\"vision_config.num_attention_heads\""},
      {R"({"vision_config": {"patch_size": 0}})", "\"vision_config.patch_size\""},
      {R"({"vision_config": {"image_size": 8, "patch_size": 14}})", "\"vision_config.image_size\""},
      {R"({"vision_config": {"qkv_bias": 1}})", "\"vision_config.qkv_bias\""},
      {R"({"vision_config": {"hidden_act": "swish"}})", "\"vision_config.hidden_act\""},
      {R"({"qformer_config": {"layer_norm_eps": 0}})", "\"qformer_config.layer_norm_eps\""},
      {R"({"qformer_config": {"cross_attention_frequency": 0}})",
       "\"qformer_config.cross_attention_frequency\""},
      {R"({"qformer_config": {"position_embedding_type": "relative_key"}})",
       "\"qformer_config.position_embedding_type\""},
      {R"({"num_query_tokens": 0})", "\"num_query_tokens\""},
      {R"({"text_config": {"model_type": "t5", "d_model": -1}})", "\"text_config.d_model\""},
      {R"({"text_config": {"model_type": "llama"}})", "\"text_config.hidden_size\""},
      {R"({"model_type": "clip"})", "\"model_type\""},
      {R"({"vision_config": []})", "\"vision_config\""},
  };
  for (const auto& [text, field] : cases) {
    auto c = ParseBlip2Config(nlohmann::json::parse(text), "blip2/config.json");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(field)) << text;
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("blip2/config.json: ")) << text;
  }
}

}  // namespace
}  // namespace lmeye
