// T5 (the BLIP-2 Flan-T5 fixture's language model) against the transformers 4.29 goldens: both
// encoder passes of every sample, greedy decoding through the slot cache (every step's logits and
// the ids), and the cached decoder against the full decoder pass.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "model/io/checkpoint.h"
#include "tests/llm/t5_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

class T5GoldenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { f_ = new T5Fixture(LoadT5Fixture()); }
  static void TearDownTestSuite() {
    delete f_;
    f_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(f_->model, nullptr); }

  static T5Fixture* f_;
  torch::NoGradGuard no_grad_;
};
T5Fixture* T5GoldenTest::f_ = nullptr;

TEST_F(T5GoldenTest, ConfigFromBlip2TextConfig) {
  const T5Config& c = f_->model->config();
  EXPECT_EQ(c.d_model, 48);
  EXPECT_EQ(c.vocab_size, 384);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_decoder_layers, 2);
  EXPECT_TRUE(c.gated);
  EXPECT_EQ(c.activation, T5Activation::kGeluTanh);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.decoder_start_token_id, 0);
}

TEST_F(T5GoldenTest, EncoderBothPasses) {
  for (const char* s : kT5Samples) {
    for (const char* pass : {"first", "second"}) {
      const std::string name = std::string(s) + "." + pass + ".encoder_last_hidden_state";
      auto out = f_->model->Encode(f_->Embeds(s, pass), f_->Mask(s));
      ASSERT_TRUE(out.ok()) << out.status();
      ExpectMatchesGolden(name, (*out)[0], f_->Get(name));
    }
  }
}

// Greedy from decoder_start_token_id over the model's own second-pass encoder output: each
// step's logits against decoder.step_logits, the argmax ids exactly.
TEST_F(T5GoldenTest, GreedyWithCacheMatchesStepLogits) {
  for (const char* s : kT5Samples) {
    at::Tensor golden_logits = f_->Get(std::string(s) + ".decoder.step_logits");  // [8, V]
    at::Tensor golden_ids = f_->Get(std::string(s) + ".generate.ids");
    at::Tensor mask = f_->Mask(s);
    auto cache = f_->model->NewCache(1, 8, mask.size(1));
    ASSERT_TRUE(cache.ok()) << cache.status();
    const int slot = *(*cache)->Allocate();
    ASSERT_TRUE(f_->model->StartDecoding(f_->Encoded(s), mask, **cache, {slot}).ok());
    int64_t token = f_->model->config().decoder_start_token_id;
    std::vector<at::Tensor> steps;
    std::vector<int64_t> ids;
    for (int t = 0; t < golden_logits.size(0); ++t) {
      at::Tensor logits = Step(*f_->model, Token(token), **cache, {slot});
      ASSERT_TRUE(logits.defined());
      steps.push_back(logits[0]);
      token = logits[0].argmax().item<int64_t>();
      ids.push_back(token);
    }
    ExpectMatchesGolden(std::string(s) + ".decoder.step_logits", at::stack(steps), golden_logits);
    ExpectMatchesGolden(std::string(s) + ".generate.ids", at::tensor(ids, at::kLong), golden_ids);
    EXPECT_EQ((*cache)->length(slot), 8);
  }
}

// The cached steps against one full decoder pass over the same ids (golden.json checks:
// t5_kv_cache_vs_full_recompute_logits_maxabs <= 9.5e-6 in transformers).
TEST_F(T5GoldenTest, CachedStepsEqualFullDecode) {
  for (const char* s : kT5Samples) {
    at::Tensor golden_ids = f_->Get(std::string(s) + ".generate.ids");
    at::Tensor ids = at::cat({at::zeros({1}, at::kLong), golden_ids.narrow(0, 0, 7)}).unsqueeze(0);
    at::Tensor encoded = f_->Encoded(s), mask = f_->Mask(s);
    auto full = f_->model->Decode(ids, encoded, mask);
    ASSERT_TRUE(full.ok()) << full.status();
    auto cache = f_->model->NewCache(1, 8, mask.size(1));
    ASSERT_TRUE(cache.ok());
    const int slot = *(*cache)->Allocate();
    ASSERT_TRUE(f_->model->StartDecoding(encoded, mask, **cache, {slot}).ok());
    double max_diff = 0;
    for (int64_t t = 0; t < ids.size(1); ++t) {
      at::Tensor logits = Step(*f_->model, ids.narrow(1, t, 1), **cache, {slot});
      ASSERT_TRUE(logits.defined());
      max_diff = std::max(max_diff, MaxAbsDiff(logits[0], (*full)[0][t]));
    }
    std::printf("%s cached vs full decode: max abs diff %.3g\n", s, max_diff);
    EXPECT_LE(max_diff, 9.5e-6) << s;
    // The full pass against the goldens too.
    ExpectMatchesGolden(std::string(s) + ".decoder.step_logits (full)", (*full)[0],
                        f_->Get(std::string(s) + ".decoder.step_logits"));
  }
}

// Load with an explicit prefix reads only the language model's tensors of the BLIP-2 file.
TEST_F(T5GoldenTest, LoadWithPrefixIgnoresOtherTensors) {
  auto ckpt = Checkpoint::Open(f_->dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto model = T5Model::Load(f_->model->config(), **ckpt, "language_model.");
  ASSERT_TRUE(model.ok()) << model.status();
  auto names = (*model)->NamedTensors();
  EXPECT_EQ(names.front().first, "decoder.block.0.layer.0.SelfAttention.k.weight");
  bool has_lm_head = false;
  for (const auto& [name, t] : names) has_lm_head |= name == "lm_head.weight";
  EXPECT_TRUE(has_lm_head);
}

}  // namespace
}  // namespace lmeye
