// Forward continuing a past (LlmInput::past, LlmOutputOptions::present) against one Forward over
// the concatenation: ragged prompts and ragged continuations of every family (learned positions,
// ALiBi, RoPE), gradients that reach the continuation's inputs only, and the errors.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "tests/llm/llm_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

// Rows of different lengths, right-padded with id 0: ids and mask [B, T].
void Pad(const std::vector<std::vector<int64_t>>& rows, at::Tensor* ids, at::Tensor* mask) {
  int64_t T = 0;
  for (const auto& r : rows) T = std::max<int64_t>(T, static_cast<int64_t>(r.size()));
  const int64_t B = static_cast<int64_t>(rows.size());
  *ids = at::zeros({B, T}, at::kLong);
  *mask = at::zeros({B, T}, at::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = static_cast<int64_t>(rows[b].size());
    (*ids)[b].narrow(0, 0, n).copy_(at::tensor(rows[b], at::kLong));
    (*mask)[b].narrow(0, 0, n).fill_(1);
  }
}

class LlmPastTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    f_ = LoadLlmFixture(GetParam());
    ASSERT_NE(f_.model, nullptr);
  }
  LlmFixture f_;
};

// Prompts of 3, 7 and 5 tokens, then continuations of 2, 1 and 3: every real continuation
// position's output equals that position's in a Forward over the whole row; the prompt ran
// without grad and the continuation's embeddings get a gradient.
TEST_P(LlmPastTest, ContinuingAPastEqualsOneForward) {
  const LlmModel& llm = *f_.model;
  const int64_t V = llm.config().vocab_size;
  const std::vector<std::vector<int64_t>> prompts = {Tokens(3, 1, V), Tokens(7, 2, V),
                                                     Tokens(5, 3, V)};
  const std::vector<std::vector<int64_t>> rests = {Tokens(2, 4, V), Tokens(1, 5, V),
                                                   Tokens(3, 6, V)};
  at::Tensor prompt_ids, prompt_mask, rest_ids, rest_mask;
  Pad(prompts, &prompt_ids, &prompt_mask);
  Pad(rests, &rest_ids, &rest_mask);
  LlmOutputOptions hidden_only;
  hidden_only.logits = LogitsAt::kNone;
  LlmPast past;
  {
    torch::NoGradGuard no_grad;
    LlmInput in;
    in.input_ids = prompt_ids;
    in.attention_mask = prompt_mask;
    LlmOutputOptions present = hidden_only;
    present.present = true;
    auto out = llm.Forward(in, present);
    ASSERT_TRUE(out.ok()) << out.status();
    past = std::move(out->present);
  }
  ASSERT_EQ(past.keys.size(), static_cast<size_t>(llm.config().n_layers));
  absl::StatusOr<at::Tensor> embeds = llm.EmbedTokens(rest_ids);
  ASSERT_TRUE(embeds.ok());
  at::Tensor leaf = embeds->detach().clone().set_requires_grad(true);
  LlmInput in;
  in.inputs_embeds = leaf;
  in.attention_mask = rest_mask;
  in.past = &past;
  auto out = llm.Forward(in, hidden_only);
  ASSERT_TRUE(out.ok()) << out.status();
  torch::NoGradGuard no_grad;
  for (size_t b = 0; b < prompts.size(); ++b) {
    std::vector<int64_t> whole = prompts[b];
    whole.insert(whole.end(), rests[b].begin(), rests[b].end());
    LlmInput full;
    full.input_ids = at::tensor(whole, at::kLong).unsqueeze(0);
    auto ref = llm.Forward(full, hidden_only);
    ASSERT_TRUE(ref.ok());
    const int64_t P = static_cast<int64_t>(prompts[b].size());
    const int64_t n = static_cast<int64_t>(rests[b].size());
    EXPECT_TRUE(MatchesGolden(out->last_hidden_state[b].narrow(0, 0, n),
                              ref->last_hidden_state[0].narrow(0, P, n)))
        << "row " << b;
  }
  {
    torch::AutoGradMode grad(true);
    out->last_token_state.sum().backward();
  }
  ASSERT_TRUE(leaf.grad().defined());
  EXPECT_GT(leaf.grad().abs().sum().item<double>(), 0);
  for (const at::Tensor& k : past.keys) EXPECT_FALSE(k.requires_grad());
}

TEST_P(LlmPastTest, BadPastIsInvalidArgument) {
  const LlmModel& llm = *f_.model;
  torch::NoGradGuard no_grad;
  LlmInput prompt;
  prompt.input_ids = at::ones({2, 3}, at::kLong);
  LlmOutputOptions present;
  present.present = true;
  auto out = llm.Forward(prompt, present);
  ASSERT_TRUE(out.ok()) << out.status();
  LlmInput in;
  in.input_ids = at::ones({1, 1}, at::kLong);  // one row, the past has two
  in.past = &out->present;
  EXPECT_EQ(llm.Forward(in).status().code(), absl::StatusCode::kInvalidArgument);
  in.input_ids = at::ones({2, 1}, at::kLong);
  EXPECT_TRUE(llm.Forward(in).ok());
  in.position_ids = at::zeros({2, 1}, at::kLong);
  EXPECT_EQ(llm.Forward(in).status().code(), absl::StatusCode::kInvalidArgument);
  in.position_ids = at::Tensor();
  LlmPast short_past = out->present;
  short_past.keys.pop_back();
  in.past = &short_past;
  EXPECT_EQ(llm.Forward(in).status().code(), absl::StatusCode::kInvalidArgument);
  auto cache = llm.NewCache(2, 8);
  ASSERT_TRUE(cache.ok());
  std::vector<int> slots = {*(*cache)->Allocate(), *(*cache)->Allocate()};
  in.past = &out->present;
  EXPECT_EQ(llm.Step(in, **cache, slots).status().code(), absl::StatusCode::kInvalidArgument);
  in.past = nullptr;
  EXPECT_EQ(llm.Step(in, **cache, slots, present).status().code(),
            absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmPastTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
