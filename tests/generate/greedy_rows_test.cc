// GreedyRows (the CPU batch's greedy kernel) against ATen in float64: the argmax with the first
// index among ties, log-probabilities within 1e-6, every dtype, tails of any length, rows with a
// gap between them, NaN and infinities, and the same bits on 1 and 2 threads. Sampler's greedy
// path uses it for one row and SampleBatch for the batch: they agree to the bit.
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/generate/greedy_rows.h"
#include "model/generate/sampler.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Checks every row of `logits` against ATen's argmax and log_softmax in float64 of the same
// values (what the row holds, read as float).
void ExpectMatchesAten(const at::Tensor& logits, double tolerance = 1e-6) {
  auto got = GreedyRows(logits);
  ASSERT_TRUE(got.ok()) << got.status();
  const at::Tensor x = logits.to(at::kDouble);
  const at::Tensor arg = x.argmax(1);
  const at::Tensor lp = x.log_softmax(1);
  ASSERT_EQ(got->size(), static_cast<size_t>(logits.size(0)));
  for (int64_t b = 0; b < logits.size(0); ++b) {
    const int64_t want = arg[b].item<int64_t>();
    EXPECT_EQ((*got)[b].token, want) << "row " << b;
    EXPECT_NEAR((*got)[b].logprob, lp[b][want].item<double>(), tolerance) << "row " << b;
  }
}

TEST(GenerateGreedyRowsTest, MatchesAtenAtAnOptVocabulary) {
  at::manual_seed(1);
  ExpectMatchesAten(at::randn({8, 50272}) * 3);
  // Wide logits: most exp terms underflow, a few dominate.
  ExpectMatchesAten(at::randn({4, 50272}) * 30);
}

TEST(GenerateGreedyRowsTest, TailsOfEveryLength) {
  at::manual_seed(2);
  for (int64_t v : {1, 2, 15, 16, 17, 31, 33, 100}) {
    SCOPED_TRACE(v);
    ExpectMatchesAten(at::randn({3, v}) * 4);
  }
}

TEST(GenerateGreedyRowsTest, FirstIndexAmongTies) {
  // Ties within a lane, across lanes and in the tail (V = 37: 32 in lanes, 5 in the tail).
  at::Tensor x = at::zeros({3, 37});
  x[0][20] = 5;
  x[0][4] = 5;
  x[0][36] = 5;  // tail
  x[1][35] = 2;  // in the tail, after the lanes' tie
  x[1][17] = 2;
  x[2].fill_(1.5);  // all equal: index 0
  auto got = GreedyRows(x);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0].token, 4);
  EXPECT_EQ((*got)[1].token, 17);
  EXPECT_EQ((*got)[2].token, 0);
  EXPECT_NEAR((*got)[2].logprob, -std::log(37.0), 1e-6);
}

TEST(GenerateGreedyRowsTest, ReducedPrecisionRowsAsTheirFloatValues) {
  at::manual_seed(3);
  for (at::ScalarType dtype : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(c10::toString(dtype));
    const at::Tensor x = (at::randn({5, 1003}) * 3).to(dtype);
    auto got = GreedyRows(x);
    auto as_float = GreedyRows(x.to(at::kFloat));
    ASSERT_TRUE(got.ok() && as_float.ok());
    for (size_t b = 0; b < got->size(); ++b) {
      EXPECT_EQ((*got)[b].token, (*as_float)[b].token);
      EXPECT_EQ((*got)[b].logprob, (*as_float)[b].logprob);  // the same float values
    }
    ExpectMatchesAten(x);
  }
}

TEST(GenerateGreedyRowsTest, RowsWithAGapBetweenThem) {
  at::manual_seed(4);
  const at::Tensor wide = at::randn({4, 300}) * 2;
  const at::Tensor rows = wide.narrow(1, 7, 250);  // stride(0) 300, rows contiguous
  ASSERT_FALSE(rows.is_contiguous());
  auto got = GreedyRows(rows);
  auto packed = GreedyRows(rows.contiguous());
  ASSERT_TRUE(got.ok() && packed.ok());
  for (size_t b = 0; b < got->size(); ++b) {
    EXPECT_EQ((*got)[b].token, (*packed)[b].token);
    EXPECT_EQ((*got)[b].logprob, (*packed)[b].logprob);
  }
}

TEST(GenerateGreedyRowsTest, NanNeverWinsAndInfinitiesAreHandled) {
  at::Tensor x = at::zeros({2, 40});
  x[0][3] = std::nanf("");
  x[0][9] = 1;
  x[1].fill_(-kInf);
  x[1][30] = 0.5;  // the only finite value: log-probability 0
  auto got = GreedyRows(x);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)[0].token, 9);
  EXPECT_TRUE(std::isnan((*got)[0].logprob));  // as ATen's logsumexp over a NaN
  EXPECT_EQ((*got)[1].token, 30);
  EXPECT_NEAR((*got)[1].logprob, 0.0, 1e-7);

  at::Tensor none = at::full({1, 20}, -kInf);
  EXPECT_EQ(GreedyRows(none).status().code(), absl::StatusCode::kInternal);
  at::Tensor infinite = at::zeros({1, 20});
  infinite[0][2] = kInf;
  EXPECT_EQ(GreedyRows(infinite).status().code(), absl::StatusCode::kInternal);
}

TEST(GenerateGreedyRowsTest, WrongInputsAreInvalidArguments) {
  EXPECT_EQ(GreedyRows(at::zeros({5})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GreedyRows(at::zeros({2, 0})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GreedyRows(at::zeros({4, 3}).t()).status().code(),
            absl::StatusCode::kInvalidArgument);  // columns, not rows, contiguous
  auto wrong_dtype = GreedyRows(at::zeros({2, 3}, at::kDouble));
  EXPECT_EQ(wrong_dtype.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wrong_dtype.status().message()), HasSubstr("Double"));
  // GreedyRowsSupported says beforehand which of these GreedyRows takes (SampleBatch's choice).
  EXPECT_FALSE(GreedyRowsSupported(at::zeros({5})));
  EXPECT_FALSE(GreedyRowsSupported(at::zeros({4, 3}).t()));
  EXPECT_FALSE(GreedyRowsSupported(at::zeros({2, 3}, at::kDouble)));
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    EXPECT_TRUE(GreedyRowsSupported(at::zeros({2, 3}, dtype)));
  }
}

TEST(GenerateGreedyRowsTest, SameBitsOnOneAndTwoThreads) {
  at::manual_seed(5);
  const at::Tensor x = (at::randn({32, 5000}) * 3).to(at::kBFloat16);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto one = GreedyRows(x);
  at::set_num_threads(2);
  auto two = GreedyRows(x);
  at::set_num_threads(threads);
  ASSERT_TRUE(one.ok() && two.ok());
  for (size_t b = 0; b < one->size(); ++b) {
    EXPECT_EQ((*one)[b].token, (*two)[b].token);
    EXPECT_EQ((*one)[b].logprob, (*two)[b].logprob);
  }
}

TEST(GenerateGreedyRowsTest, SamplerAloneEqualsTheBatchToTheBit) {
  at::manual_seed(6);
  const at::Tensor x = (at::randn({6, 777}) * 3).to(at::kBFloat16);
  SamplingParams greedy;
  std::vector<std::unique_ptr<Sampler>> owned;
  std::vector<Sampler*> samplers;
  std::vector<int64_t> history = {1, 2, 3};
  std::vector<absl::Span<const int64_t>> histories;
  for (int b = 0; b < 6; ++b) {
    owned.push_back(Sampler::Create(greedy).value());
    samplers.push_back(owned.back().get());
    histories.push_back(history);
  }
  auto batch = SampleBatch(x, samplers, histories);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (int b = 0; b < 6; ++b) {
    auto alone = owned[b]->Sample(x[b], history);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ((*batch)[b].token, alone->token);
    EXPECT_EQ((*batch)[b].logprob, alone->logprob);
  }
}

}  // namespace
}  // namespace lmeye
