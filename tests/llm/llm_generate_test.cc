// Greedy generation against transformers generate(): c1 (one prompt, config EOS), c2 (left
// padded batch, step logits), c3 (inputs_embeds prompt), c4 (fake EOS: finished rows filled
// with the pad id, early stop when all rows finished). Ids exact.
#include <gtest/gtest.h>

#include "model/llm/greedy.h"
#include "tests/llm/llm_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

class LlmGenerateTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    f_ = LoadLlmFixture(GetParam());
    ASSERT_NE(f_.model, nullptr);
    options_.max_new_tokens = 8;
    options_.eos_token_ids = f_.model->config().eos_token_ids;
    options_.pad_token_id = f_.model->config().pad_token_id;
    options_.keep_step_logits = true;
  }

  LlmFixture f_;
  GreedyOptions options_;
};

TEST_P(LlmGenerateTest, C1SinglePrompt) {
  LlmInput in;
  in.input_ids = f_.Get("c1.prompt_ids");
  auto r = GreedyGenerate(*f_.model, in, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  at::Tensor out = at::cat({in.input_ids, r->tokens}, 1);
  at::Tensor golden = f_.Get("c1.output_ids");
  ASSERT_EQ(out.sizes(), golden.sizes()) << out;
  EXPECT_TRUE(at::equal(out, golden)) << out << golden;
}

TEST_P(LlmGenerateTest, C2LeftPaddedBatch) {
  LlmInput in;
  in.input_ids = f_.Get("c2.prompt_ids");
  in.attention_mask = f_.Get("c2.attention_mask");
  auto r = GreedyGenerate(*f_.model, in, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  at::Tensor out = at::cat({in.input_ids, r->tokens}, 1);
  at::Tensor golden = f_.Get("c2.output_ids");
  ASSERT_EQ(out.sizes(), golden.sizes());
  EXPECT_TRUE(at::equal(out, golden)) << out << golden;
  ExpectMatchesGolden(GetParam() + " c2.step_logits", r->step_logits, f_.Get("c2.step_logits"));
}

TEST_P(LlmGenerateTest, C3InputsEmbeds) {
  LlmInput in;
  in.inputs_embeds = f_.Get("c3.inputs_embeds");
  in.attention_mask = f_.Get("c3.attention_mask");
  auto r = GreedyGenerate(*f_.model, in, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  at::Tensor golden = f_.Get("c3.output_ids");
  // Column 0 of HF's output is a bos placeholder that is not fed to the model.
  at::Tensor generated = golden.narrow(1, 1, golden.size(1) - 1);
  ASSERT_EQ(r->tokens.sizes(), generated.sizes());
  EXPECT_TRUE(at::equal(r->tokens, generated)) << r->tokens << generated;
  EXPECT_TRUE(at::equal(golden.select(1, 0),
                        at::full({golden.size(0)}, f_.model->config().bos_token_id, at::kLong)));
  ExpectMatchesGolden(GetParam() + " c3.step_logits", r->step_logits, f_.Get("c3.step_logits"));
}

TEST_P(LlmGenerateTest, C4FakeEosFillsPadAndStopsEarly) {
  LlmInput in;
  in.input_ids = f_.Get("c2.prompt_ids");
  in.attention_mask = f_.Get("c2.attention_mask");
  options_.eos_token_ids = {f_.Get("c4.eos_token_id")[0].item<int64_t>()};
  auto r = GreedyGenerate(*f_.model, in, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  at::Tensor out = at::cat({in.input_ids, r->tokens}, 1);
  at::Tensor golden = f_.Get("c4.output_ids");
  ASSERT_EQ(out.sizes(), golden.sizes()) << out << golden;
  EXPECT_TRUE(at::equal(out, golden)) << out << golden;
}

// bfloat16 end to end: prefill, KV cache and decode steps in bf16 (ids may differ from fp32).
TEST_P(LlmGenerateTest, Bfloat16Generates) {
  LlmFixture bf = LoadLlmFixture(GetParam(), at::kBFloat16);
  ASSERT_NE(bf.model, nullptr);
  LlmInput in;
  in.input_ids = f_.Get("c2.prompt_ids");
  in.attention_mask = f_.Get("c2.attention_mask");
  options_.eos_token_ids.clear();
  auto r = GreedyGenerate(*bf.model, in, options_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens.sizes(), (std::vector<int64_t>{2, 8}));
  EXPECT_GE(r->tokens.min().item<int64_t>(), 0);
  EXPECT_LT(r->tokens.max().item<int64_t>(), bf.model->config().vocab_size);
  EXPECT_FALSE(at::isnan(r->step_logits).any().item<bool>());
  // The first step's logits stay close to float32's.
  at::Tensor golden = f_.Get("c2.step_logits")[0];
  EXPECT_LE(MaxAbsDiff(r->step_logits[0], golden), 0.1 * golden.abs().max().item<double>());
}

TEST_P(LlmGenerateTest, BadOptions) {
  LlmInput in;
  in.input_ids = f_.Get("c1.prompt_ids");
  options_.max_new_tokens = 0;
  EXPECT_EQ(GreedyGenerate(*f_.model, in, options_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmGenerateTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
