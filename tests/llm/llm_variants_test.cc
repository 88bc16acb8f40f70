// Architecture variants the tiny fixtures do not cover, on random weights: OPT-350m's
// project_in/project_out and post-norm layers, BLOOM with a non-power-of-two head count,
// LLaMA with multi-query attention, attention biases and linear RoPE scaling. Each variant
// saves and reloads through the family table (same names, same outputs) and its KV-cached
// decode equals full recomputation.
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/llm/llm_model.h"
#include "tests/common/golden_expect.h"

namespace lmeye {
namespace {

using json = nlohmann::json;

struct Variant {
  std::string name;
  json config;
};

std::vector<Variant> Variants() {
  return {
      {"opt_project_post_norm", json{{"model_type", "opt"},
                                     {"hidden_size", 64},
                                     {"word_embed_proj_dim", 32},
                                     {"num_attention_heads", 4},
                                     {"num_hidden_layers", 2},
                                     {"ffn_dim", 96},
                                     {"vocab_size", 100},
                                     {"max_position_embeddings", 32},
                                     {"do_layer_norm_before", false}}},
      {"bloom_6_heads", json{{"model_type", "bloom"},
                             {"n_embed", 48},
                             {"n_head", 6},
                             {"n_layer", 2},
                             {"vocab_size", 100},
                             {"apply_residual_connection_post_layernorm", true}}},
      {"llama_mqa_bias_scaled_rope", json{{"model_type", "llama"},
                                          {"hidden_size", 64},
                                          {"num_attention_heads", 8},
                                          {"num_key_value_heads", 1},
                                          {"intermediate_size", 96},
                                          {"num_hidden_layers", 2},
                                          {"vocab_size", 100},
                                          {"attention_bias", true},
                                          {"rope_theta", 500000.0},
                                          {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}}}},
  };
}

class LlmVariantTest : public ::testing::TestWithParam<Variant> {};

TEST_P(LlmVariantTest, SaveLoadAndCachedDecode) {
  torch::NoGradGuard no_grad;
  auto config = ParseLlmConfig(GetParam().config);
  ASSERT_TRUE(config.ok()) << config.status();
  auto model = LlmModel::CreateRandom(*config, {}, /*seed=*/7);
  ASSERT_TRUE(model.ok()) << model.status();
  // Larger weights than the init's 0.02 so that logits are far from uniform.
  for (auto& [name, t] : (*model)->NamedTensors()) {
    if (t.dim() == 2) t.mul_(10.0);
  }

  const std::string path = ::testing::TempDir() + "/" + GetParam().name + ".safetensors";
  ASSERT_TRUE(WriteSafetensors(path, (*model)->NamedTensors()).ok());
  auto ckpt = Checkpoint::OpenFile(path);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto loaded = LlmModel::Load(*config, **ckpt);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->TensorNames(), (*ckpt)->names());

  const int64_t V = config->vocab_size;
  // Two prompts (lengths 6 and 3), left padded.
  at::Tensor ids =
      at::tensor({5L, 17L, 42L, 8L, 99L, 23L, 0L, 0L, 0L, 61L, 2L, 33L}, at::kLong).view({2, 6});
  at::Tensor mask =
      at::tensor({1L, 1L, 1L, 1L, 1L, 1L, 0L, 0L, 0L, 1L, 1L, 1L}, at::kLong).view({2, 6});
  LlmInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  auto a = (*model)->Forward(in), b = (*loaded)->Forward(in);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_TRUE(at::equal(a->logits, b->logits));
  EXPECT_EQ(a->logits.size(2), V);
  EXPECT_EQ(a->last_hidden_state.size(2), config->embed_dim);

  auto cache = (*loaded)->NewCache(2, 16);
  ASSERT_TRUE(cache.ok());
  std::vector<int> slots = {*(*cache)->Allocate(), *(*cache)->Allocate()};
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto step = (*loaded)->Step(in, **cache, slots, last);
  ASSERT_TRUE(step.ok()) << step.status();
  std::vector<std::vector<int64_t>> seqs = {{5, 17, 42, 8, 99, 23}, {61, 2, 33}};
  for (int t = 0; t < 4; ++t) {
    for (int r = 0; r < 2; ++r) {
      LlmInput full;
      full.input_ids = at::tensor(seqs[r], at::kLong).unsqueeze(0);
      auto ref = (*loaded)->Forward(full, last);
      ASSERT_TRUE(ref.ok());
      EXPECT_TRUE(testing::MatchesGolden(step->logits[r], ref->logits[0]))
          << "row " << r << " step " << t;
      seqs[r].push_back((t * 31 + r * 7 + 3) % V);
    }
    LlmInput next;
    next.input_ids = at::tensor({seqs[0].back(), seqs[1].back()}, at::kLong).unsqueeze(1);
    step = (*loaded)->Step(next, **cache, slots, last);
    ASSERT_TRUE(step.ok()) << step.status();
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, LlmVariantTest, ::testing::ValuesIn(Variants()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lmeye

namespace lmeye {
namespace {

// Not a correctness test: decode-step speed on an OPT-125m-shaped random model, for a quick look
// at the hot loop (run with --gtest_also_run_disabled_tests). `lmeye bench` is the real tool.
TEST(LlmSpeedTest, DISABLED_DecodeStepOpt125mShape) {
  torch::NoGradGuard no_grad;
  auto config = ParseLlmConfig(json{{"model_type", "opt"}, {"max_position_embeddings", 2048}});
  ASSERT_TRUE(config.ok());
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    LlmLoadOptions options;
    options.dtype = dtype;
    auto model = LlmModel::CreateRandom(*config, options, 1);
    ASSERT_TRUE(model.ok()) << model.status();
    int64_t weight_bytes = 0;
    for (const auto& [name, t] : (*model)->NamedTensors()) weight_bytes += t.nbytes();
    {
      // The floor: one GEMV per weight matrix (embeddings included: the tied lm_head reads the
      // token table), nothing else. A step close to it has no overhead worth chasing.
      auto start = std::chrono::steady_clock::now();
      for (const auto& [name, t] : (*model)->NamedTensors()) {
        if (t.dim() != 2) continue;
        at::linear(at::ones({1, t.size(1)}, t.options()), t);
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%s GEMV floor: %.2f ms, %.2f GB/s\n", dtype == at::kFloat ? "fp32" : "bf16",
                  1e3 * s, weight_bytes / s / 1e9);
    }
    for (int batch : {1, 8}) {
      auto cache = (*model)->NewCache(batch, 256);
      ASSERT_TRUE(cache.ok());
      std::vector<int> slots;
      for (int b = 0; b < batch; ++b) slots.push_back(*(*cache)->Allocate());
      LlmOutputOptions last;
      last.logits = LogitsAt::kLast;
      LlmInput prompt;
      prompt.input_ids = at::randint(0, 50000, {batch, 64}, at::kLong);
      ASSERT_TRUE((*model)->Step(prompt, **cache, slots, last).ok());
      LlmInput next;
      next.input_ids = at::randint(0, 50000, {batch, 1}, at::kLong);
      const int n_steps = 32;
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < n_steps; ++i) {
        auto out = (*model)->Step(next, **cache, slots, last);
        ASSERT_TRUE(out.ok()) << out.status();
      }
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("%s batch %d: %.2f ms/step, %.1f tokens/s, %.2f GB/s of weights\n",
                  dtype == at::kFloat ? "fp32" : "bf16", batch, 1e3 * s / n_steps,
                  batch * n_steps / s, weight_bytes * n_steps / s / 1e9);
    }
  }
}

}  // namespace
}  // namespace lmeye
