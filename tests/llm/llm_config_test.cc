// Config parsing: fixtures, transformers defaults for omitted keys, aliases, clear errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/llm/llm_config.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using json = nlohmann::json;
using ::lmeye::testing::TestData;

TEST(LlmConfigTest, ParsesFixtures) {
  auto opt = LoadLlmConfig(TestData("models/opt-tiny"));
  ASSERT_TRUE(opt.ok()) << opt.status();
  EXPECT_EQ(opt->family, LlmFamily::kOpt);
  EXPECT_EQ(opt->hidden_size, 64);
  EXPECT_EQ(opt->embed_dim, 64);
  EXPECT_EQ(opt->n_heads, 4);
  EXPECT_EQ(opt->head_dim, 16);
  EXPECT_EQ(opt->ffn_dim, 128);
  EXPECT_EQ(opt->max_positions, 64);
  EXPECT_EQ(opt->activation, LlmActivation::kRelu);
  EXPECT_EQ(opt->positions, LlmPositions::kLearned);
  EXPECT_TRUE(opt->tie_word_embeddings);
  EXPECT_EQ(opt->pad_token_id, 1);
  EXPECT_EQ(opt->eos_token_ids, std::vector<int64_t>{2});

  auto bloom = LoadLlmConfig(TestData("models/bloom-tiny"));
  ASSERT_TRUE(bloom.ok()) << bloom.status();
  EXPECT_EQ(bloom->family, LlmFamily::kBloom);
  EXPECT_EQ(bloom->n_layers, 2);
  EXPECT_EQ(bloom->n_heads, 4);
  EXPECT_EQ(bloom->ffn_dim, 256);  // 4 * hidden
  EXPECT_EQ(bloom->activation, LlmActivation::kBloomGelu);
  EXPECT_TRUE(bloom->fused_qkv);
  EXPECT_TRUE(bloom->embed_norm);
  EXPECT_EQ(bloom->pad_token_id, 3);

  auto llama = LoadLlmConfig(TestData("models/llama-tiny"));
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->family, LlmFamily::kLlama);
  EXPECT_EQ(llama->n_kv_heads, 2);
  EXPECT_EQ(llama->ffn_dim, 172);
  EXPECT_DOUBLE_EQ(llama->norm_eps, 1e-6);
  EXPECT_EQ(llama->norm, LlmNorm::kRmsNorm);
  EXPECT_FALSE(llama->tie_word_embeddings);
  EXPECT_TRUE(llama->gated_mlp);
}

TEST(LlmConfigTest, OmittedKeysTakeTransformersDefaults) {
  auto opt = ParseLlmConfig(json{{"model_type", "opt"}});
  ASSERT_TRUE(opt.ok()) << opt.status();
  EXPECT_EQ(opt->vocab_size, 50272);
  EXPECT_EQ(opt->hidden_size, 768);
  EXPECT_EQ(opt->embed_dim, 768);  // word_embed_proj_dim defaults to hidden_size
  EXPECT_EQ(opt->n_layers, 12);
  EXPECT_EQ(opt->ffn_dim, 3072);
  EXPECT_EQ(opt->max_positions, 2048);
  EXPECT_TRUE(opt->norm_before);
  EXPECT_TRUE(opt->final_norm);
  EXPECT_TRUE(opt->attn_bias);
  EXPECT_EQ(opt->bos_token_id, 2);

  auto bloom = ParseLlmConfig(json{{"model_type", "bloom"}});
  ASSERT_TRUE(bloom.ok()) << bloom.status();
  EXPECT_EQ(bloom->vocab_size, 250880);
  EXPECT_EQ(bloom->n_heads, 8);
  EXPECT_EQ(bloom->pad_token_id, -1);  // BloomConfig has no pad default

  auto llama = ParseLlmConfig(json{{"architectures", {"LlamaForCausalLM"}}});
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->model_type, "llama");
  EXPECT_EQ(llama->hidden_size, 4096);
  EXPECT_EQ(llama->n_kv_heads, 32);  // num_key_value_heads defaults to num_attention_heads
  EXPECT_EQ(llama->ffn_dim, 11008);
  EXPECT_DOUBLE_EQ(llama->rope_theta, 10000.0);
  EXPECT_FALSE(llama->tie_word_embeddings);
  EXPECT_EQ(llama->pad_token_id, -1);
}

TEST(LlmConfigTest, AliasesAndVariants) {
  // bloomz-7b1 writes the legacy "n_embed" (and n_layer / n_head).
  auto bloom = ParseLlmConfig(
      json{{"model_type", "bloom"}, {"n_embed", 4096}, {"n_layer", 30}, {"n_head", 32}});
  ASSERT_TRUE(bloom.ok()) << bloom.status();
  EXPECT_EQ(bloom->hidden_size, 4096);
  EXPECT_EQ(bloom->ffn_dim, 4 * 4096);
  EXPECT_EQ(bloom->n_layers, 30);
  EXPECT_EQ(bloom->head_dim, 128);

  // OPT-350m: project_in/out and post-norm without a final norm.
  auto opt = ParseLlmConfig(json{{"model_type", "opt"},
                                 {"hidden_size", 1024},
                                 {"num_attention_heads", 16},
                                 {"word_embed_proj_dim", 512},
                                 {"do_layer_norm_before", false}});
  ASSERT_TRUE(opt.ok()) << opt.status();
  EXPECT_EQ(opt->embed_dim, 512);
  EXPECT_FALSE(opt->norm_before);
  EXPECT_FALSE(opt->final_norm);

  auto llama = ParseLlmConfig(json{{"model_type", "llama"},
                                   {"num_key_value_heads", nullptr},
                                   {"eos_token_id", {2, 32000}},
                                   {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}});
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->n_kv_heads, 32);
  EXPECT_EQ(llama->eos_token_ids, (std::vector<int64_t>{2, 32000}));
  EXPECT_DOUBLE_EQ(llama->rope_linear_factor, 2.0);
}

void ExpectError(const json& config, const std::string& needle) {
  auto c = ParseLlmConfig(config);
  ASSERT_FALSE(c.ok()) << config.dump();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(c.status().message()).find(needle), std::string::npos)
      << c.status().message();
}

TEST(LlmConfigTest, ClearErrors) {
  ExpectError(json{{"model_type", "gpt2"}, {"architectures", {"GPT2LMHeadModel"}}},
              "supported: opt (OPTForCausalLM)");
  ExpectError(json{{"model_type", "llama"}, {"architectures", {"LlamaForSequenceClassification"}}},
              "architecture \"LlamaForSequenceClassification\"");
  ExpectError(json::array(), "not a JSON object");
  ExpectError(json{{"model_type", "opt"}, {"hidden_size", "big"}},
              "\"hidden_size\" must be an integer");
  ExpectError(json{{"model_type", "llama"}, {"hidden_size", 64}, {"num_attention_heads", 5}},
              "not divisible");
  ExpectError(
      json{{"model_type", "llama"}, {"num_attention_heads", 32}, {"num_key_value_heads", 5}},
      "num_key_value_heads");
  ExpectError(json{{"model_type", "llama"}, {"rope_scaling", {{"type", "dynamic"}, {"factor", 2}}}},
              "rope_scaling");
  ExpectError(json{{"model_type", "opt"}, {"activation_function", "mish"}}, "mish");
  ExpectError(json{{"model_type", "opt"}, {"eos_token_id", "x"}}, "eos_token_id");
  auto missing = LoadLlmConfig(TestData("models/no-such-model"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace lmeye
