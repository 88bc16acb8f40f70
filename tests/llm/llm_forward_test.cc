// Forward without a cache against the transformers goldens: right/left padding with attention
// masks, hidden states per layer, inputs_embeds, LLaMA's explicit position_ids; padding
// invariance; bfloat16; bad inputs.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "tests/llm/llm_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

class LlmForwardTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { f_ = LoadLlmFixture(GetParam()); }

  void HfPositions(LlmInput& in) const { testing::HfPositions(f_.model->config(), in); }

  LlmFixture f_;
  torch::NoGradGuard no_grad_;
};

TEST_P(LlmForwardTest, PaddedBatchesMatchGoldens) {
  ASSERT_NE(f_.model, nullptr);
  for (const std::string group : {"a_right", "a_left"}) {
    LlmInput in;
    in.input_ids = f_.Get(group + ".input_ids");
    in.attention_mask = f_.Get(group + ".attention_mask");
    HfPositions(in);
    LlmOutputOptions options;
    options.hidden_states = true;
    auto out = f_.model->Forward(in, options);
    ASSERT_TRUE(out.ok()) << out.status();
    at::Tensor real = RealPositions(in.attention_mask);
    ExpectMatchesGolden(GetParam() + " " + group + ".logits", out->logits,
                        f_.Get(group + ".logits"), real);
    if (group == "a_right") {
      ASSERT_EQ(out->hidden_states.size(), 3u);
      for (int i = 0; i < 3; ++i) {
        const std::string name = group + ".hidden_states." + std::to_string(i);
        // Padding positions too: we compute them the way transformers does.
        ExpectMatchesGolden(GetParam() + " " + name, out->hidden_states[i], f_.Get(name));
      }
      EXPECT_TRUE(at::equal(out->hidden_states[2], out->last_hidden_state));
    }
  }
}

TEST_P(LlmForwardTest, LlamaExplicitPositionIds) {
  if (!f_.Has("a_left.position_ids")) GTEST_SKIP() << "no a_left.position_ids golden";
  LlmInput in;
  in.input_ids = f_.Get("a_left.input_ids");
  in.attention_mask = f_.Get("a_left.attention_mask");
  in.position_ids = f_.Get("a_left.position_ids");
  auto out = f_.model->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(
      MatchesGolden(out->logits, f_.Get("a_left.logits_posids"), RealPositions(in.attention_mask)));
  // The default (positions from the mask) is the same thing.
  in.position_ids = at::Tensor();
  auto from_mask = f_.model->Forward(in);
  ASSERT_TRUE(from_mask.ok());
  EXPECT_LE(MaxAbsDiff(from_mask->logits, out->logits, RealPositions(in.attention_mask)), 1e-6);
}

TEST_P(LlmForwardTest, InputsEmbedsMatchGoldenAndIds) {
  LlmInput in;
  in.inputs_embeds = f_.Get("b.inputs_embeds");
  auto out = f_.model->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectMatchesGolden(GetParam() + " b.logits", out->logits, f_.Get("b.logits"));

  // Feeding E[ids] as embeddings is the same as feeding ids.
  LlmInput by_ids;
  by_ids.input_ids = f_.Get("d.input_ids");
  auto embeds = f_.model->EmbedTokens(by_ids.input_ids);
  ASSERT_TRUE(embeds.ok());
  EXPECT_EQ(embeds->size(2), f_.model->config().embed_dim);
  LlmInput by_embeds;
  by_embeds.inputs_embeds = *embeds;
  auto a = f_.model->Forward(by_ids), b = f_.model->Forward(by_embeds);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(at::equal(a->logits, b->logits));
}

// Row 1 of the padded batches equals the same tokens run alone, whichever side is padded. Up to
// float32 rounding that depends on the batch shape (BLAS blocking), which the golden rule allows:
// transformers' own padded-vs-unpadded difference on these fixtures is up to 6.9e-6 (bloom-tiny,
// |logits| ~17), 4e-7 relative.

TEST_P(LlmForwardTest, PaddingDoesNotChangeRealTokens) {
  at::Tensor ids = f_.Get("a_right.input_ids"), mask = f_.Get("a_right.attention_mask");
  const int64_t n = mask[1].sum().item<int64_t>();
  LlmInput alone;
  alone.input_ids = ids[1].narrow(0, 0, n).unsqueeze(0);
  auto ref = f_.model->Forward(alone);
  ASSERT_TRUE(ref.ok());
  for (const std::string group : {"a_right", "a_left"}) {
    LlmInput in;
    in.input_ids = f_.Get(group + ".input_ids");
    in.attention_mask = f_.Get(group + ".attention_mask");
    auto out = f_.model->Forward(in);
    ASSERT_TRUE(out.ok());
    at::Tensor row = group == "a_right" ? out->logits[1].narrow(0, 0, n)
                                        : out->logits[1].narrow(0, ids.size(1) - n, n);
    EXPECT_TRUE(MatchesGolden(row, ref->logits[0])) << group;
  }
  // kLast picks each row's last real token.
  LlmInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto out = f_.model->Forward(in, last);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(MatchesGolden(out->logits[1], ref->logits[0][n - 1]));
  EXPECT_TRUE(at::equal(out->last_token_state[1], out->last_hidden_state[1][n - 1]));
}

TEST_P(LlmForwardTest, Bfloat16Runs) {
  LlmFixture bf = LoadLlmFixture(GetParam(), at::kBFloat16);
  ASSERT_NE(bf.model, nullptr);
  LlmInput in;
  in.input_ids = f_.Get("a_left.input_ids");
  in.attention_mask = f_.Get("a_left.attention_mask");
  HfPositions(in);
  auto out = bf.model->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->logits.scalar_type(), at::kBFloat16);
  at::Tensor real = RealPositions(in.attention_mask);
  at::Tensor golden = f_.Get("a_left.logits");
  double d = MaxAbsDiff(out->logits, golden, real);
  double scale = golden.abs().max().item<double>();
  std::printf("%s bf16 a_left.logits max abs diff %.3g (max |logit| %.3g)\n", GetParam().c_str(), d,
              scale);
  EXPECT_FALSE(at::isnan(out->logits.to(at::kFloat)).any().item<bool>());
  EXPECT_LE(d, 0.1 * scale);
  // Greedy choices mostly agree with float32.
  at::Tensor agree = (out->logits.argmax(-1) == golden.argmax(-1)).masked_select(real.squeeze(-1));
  EXPECT_GE(agree.to(at::kFloat).mean().item<float>(), 0.7f);
}

TEST_P(LlmForwardTest, BadInputsAreErrors) {
  LlmInput none;
  EXPECT_EQ(f_.model->Forward(none).status().code(), absl::StatusCode::kInvalidArgument);
  LlmInput out_of_range;
  out_of_range.input_ids = at::full({1, 3}, f_.model->config().vocab_size, at::kLong);
  EXPECT_EQ(f_.model->Forward(out_of_range).status().code(), absl::StatusCode::kInvalidArgument);
  LlmInput bad_mask;
  bad_mask.input_ids = at::zeros({2, 3}, at::kLong);
  bad_mask.attention_mask = at::ones({2, 4}, at::kLong);
  EXPECT_EQ(f_.model->Forward(bad_mask).status().code(), absl::StatusCode::kInvalidArgument);
  LlmInput bad_width;
  bad_width.inputs_embeds = at::zeros({1, 2, f_.model->config().embed_dim + 1});
  auto s = f_.model->Forward(bad_width).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("inputs_embeds"), std::string::npos);
  if (f_.model->config().positions == LlmPositions::kLearned) {
    LlmInput too_long;
    too_long.input_ids = at::zeros({1, f_.model->config().max_positions + 1}, at::kLong);
    EXPECT_EQ(f_.model->Forward(too_long).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmForwardTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
