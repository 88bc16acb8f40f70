// Multiple-choice scoring on the tiny fixture LLMs against full Forward passes: per-token
// log-probabilities, totals, means and the argmax; chunking when few slots are free; errors.
#include <memory>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/generate/choice_scorer.h"
#include "model/generate/llm_slot_stepper.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::lmeye::testing::TestData;

LlmInput Ids(const std::vector<int64_t>& ids) {
  LlmInput in;
  in.input_ids = at::tensor(ids, at::kLong).unsqueeze(0);
  return in;
}

// log p(choice | prompt) per token, from one full forward over prompt + choice.
std::vector<double> ReferenceTokenLogprobs(const LlmModel& model,
                                           const std::vector<int64_t>& prompt,
                                           const std::vector<int64_t>& choice) {
  std::vector<int64_t> seq = prompt;
  seq.insert(seq.end(), choice.begin(), choice.end());
  auto out = model.Forward(Ids(seq));
  EXPECT_TRUE(out.ok()) << out.status();
  at::Tensor lp = out->logits[0].to(at::kDouble).log_softmax(-1);  // [T, V]
  std::vector<double> result;
  for (size_t t = 0; t < choice.size(); ++t) {
    result.push_back(lp[prompt.size() - 1 + t][choice[t]].item<double>());
  }
  return result;
}

class GenerateChoiceScorerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = LlmModel::Load(TestData("models/" + GetParam()));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  std::unique_ptr<LlmModel> model_;
  std::vector<int64_t> prompt_ = {17, 404, 12, 900, 33, 250, 7};
  std::vector<std::vector<int64_t>> choices_ = {
      {5}, {100, 200, 300, 400}, {42, 42}, {999, 3, 8, 61, 77, 15}, {600, 601, 602}};
};

TEST_P(GenerateChoiceScorerTest, EqualsFullForward) {
  auto r = ScoreChoices(*model_, Ids(prompt_), choices_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->choices.size(), choices_.size());
  int best = 0, best_mean = 0;
  std::vector<double> totals, means;
  for (size_t i = 0; i < choices_.size(); ++i) {
    std::vector<double> ref = ReferenceTokenLogprobs(*model_, prompt_, choices_[i]);
    const ChoiceScore& c = r->choices[i];
    ASSERT_EQ(c.token_logprobs.size(), ref.size());
    double total = 0;
    for (size_t t = 0; t < ref.size(); ++t) {
      EXPECT_NEAR(c.token_logprobs[t], ref[t], 1e-4) << "choice " << i << " token " << t;
      total += ref[t];
    }
    EXPECT_NEAR(c.total_logprob, total, 1e-4);
    EXPECT_NEAR(c.mean_logprob, total / ref.size(), 1e-4);
    totals.push_back(total);
    means.push_back(total / ref.size());
    if (totals[i] > totals[best]) best = static_cast<int>(i);
    if (means[i] > means[best_mean]) best_mean = static_cast<int>(i);
  }
  EXPECT_EQ(r->best, best);
  EXPECT_EQ(r->best_by_mean, best_mean);
}

TEST_P(GenerateChoiceScorerTest, ChunksWhenFewSlotsAreFreeAndLeavesThePromptAlone) {
  auto cache = model_->NewCache(3, 24);  // prompt + 2 free slots for 5 choices
  ASSERT_TRUE(cache.ok());
  const int slot = (*cache)->Allocate().value();
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto out = model_->Step(Ids(prompt_), **cache, {slot}, last);
  ASSERT_TRUE(out.ok());
  auto chunked = ScoreChoices(*model_, **cache, slot, out->logits[0], choices_);
  ASSERT_TRUE(chunked.ok()) << chunked.status();
  auto whole = ScoreChoices(*model_, Ids(prompt_), choices_);
  ASSERT_TRUE(whole.ok());
  for (size_t i = 0; i < choices_.size(); ++i) {
    EXPECT_NEAR(chunked->choices[i].total_logprob, whole->choices[i].total_logprob, 1e-4);
  }
  EXPECT_EQ((*cache)->n_free(), 2);
  EXPECT_EQ((*cache)->length(slot), static_cast<int>(prompt_.size()));
}

// The step-by-step scorer (any SlotStepper; T5's decoder uses it) gives the batched one's numbers,
// chunked through 2 free slots, and leaves the prompt's slot as it was.
TEST_P(GenerateChoiceScorerTest, StepwiseOverSlotsEqualsTheBatchedScorer) {
  auto cache = model_->NewCache(3, 24);
  ASSERT_TRUE(cache.ok());
  const int slot = (*cache)->Allocate().value();
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto out = model_->Step(Ids(prompt_), **cache, {slot}, last);
  ASSERT_TRUE(out.ok());
  LlmSlotStepper stepper(*model_, **cache);
  auto stepwise = ScoreChoices(stepper, slot, out->logits[0], choices_);
  ASSERT_TRUE(stepwise.ok()) << stepwise.status();
  auto whole = ScoreChoices(*model_, Ids(prompt_), choices_);
  ASSERT_TRUE(whole.ok());
  for (size_t i = 0; i < choices_.size(); ++i) {
    ASSERT_EQ(stepwise->choices[i].token_logprobs.size(), choices_[i].size());
    for (size_t t = 0; t < choices_[i].size(); ++t) {
      EXPECT_NEAR(stepwise->choices[i].token_logprobs[t], whole->choices[i].token_logprobs[t], 1e-4)
          << "choice " << i << " token " << t;
    }
    EXPECT_NEAR(stepwise->choices[i].mean_logprob, whole->choices[i].mean_logprob, 1e-4);
  }
  EXPECT_EQ(stepwise->best, whole->best);
  EXPECT_EQ(stepwise->best_by_mean, whole->best_by_mean);
  EXPECT_EQ((*cache)->n_free(), 2);
  EXPECT_EQ((*cache)->length(slot), static_cast<int>(prompt_.size()));
  EXPECT_EQ(ScoreChoices(stepper, slot, out->logits[0], {{1, 5000}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(GenerateChoiceScorerTest, BadChoicesAreErrors) {
  EXPECT_EQ(ScoreChoices(*model_, Ids(prompt_), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScoreChoices(*model_, Ids(prompt_), {{1}, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScoreChoices(*model_, Ids(prompt_), {{1, 5000}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto cache = model_->NewCache(1, 10);
  ASSERT_TRUE(cache.ok());
  const int slot = (*cache)->Allocate().value();
  LlmOutputOptions last;
  last.logits = LogitsAt::kLast;
  auto out = model_->Step(Ids(prompt_), **cache, {slot}, last);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ScoreChoices(*model_, **cache, slot, out->logits[0], {{1}}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GenerateChoiceScorerTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
