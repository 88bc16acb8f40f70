// SmallBatchLinear (a decode step's linear layers) against the same product in float64, for
// float32 and bf16 weights, one to four activation rows, sizes that are and are not multiples of
// the kernel's blocks, with and without bias, activations that are views; and when it declines.
#include "model/llm/small_batch_linear.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lmeye {
namespace {

struct Case {
  std::vector<int64_t> x_sizes;  // leading dims, then K
  int64_t N;
  bool bias;
  at::ScalarType dtype;
};

// max |ours - reference| / max |reference|: the reference is float64 of the same rounded inputs,
// so only accumulation order (float32 here) and the final rounding to the dtype differ.
double RelativeError(const at::Tensor& ours, const at::Tensor& reference) {
  return (ours.to(at::kDouble) - reference).abs().max().item<double>() /
         reference.abs().max().item<double>();
}

class SmallBatchLinearTest : public ::testing::TestWithParam<Case> {};

TEST_P(SmallBatchLinearTest, MatchesFloat64Product) {
  const Case& c = GetParam();
  torch::manual_seed(11);
  const int64_t K = c.x_sizes.back();
  auto options = at::TensorOptions().dtype(c.dtype);
  const at::Tensor x = at::randn(c.x_sizes, options);
  const at::Tensor w = at::randn({c.N, K}, options);
  const at::Tensor b = c.bias ? at::randn({c.N}, options) : at::Tensor();
  ASSERT_TRUE(SmallBatchLinearSupported(x, w, b));
  const at::Tensor ours = SmallBatchLinear(x, w, b);
  const at::Tensor reference =
      at::linear(x.to(at::kDouble), w.to(at::kDouble), c.bias ? b.to(at::kDouble) : at::Tensor());
  ASSERT_EQ(ours.sizes(), reference.sizes());
  EXPECT_EQ(ours.scalar_type(), c.dtype);
  // bf16 output: one rounding of 2^-9 relative, a little more where sums cancel; float32
  // output: float accumulation over K terms, far below 1e-5.
  EXPECT_LT(RelativeError(ours, reference), c.dtype == at::kBFloat16 ? 8e-3 : 1e-5);
  // ApplyLinear takes the same path.
  EXPECT_TRUE(at::equal(ApplyLinear(x, w, b), ours));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SmallBatchLinearTest,
    ::testing::Values(Case{{1, 1, 64}, 96, false, at::kFloat},    // whole blocks and lanes
                      Case{{1, 1, 61}, 95, true, at::kFloat},     // tails in K and N
                      Case{{2, 1, 200}, 7, true, at::kFloat},     // fewer rows than a block
                      Case{{3, 130}, 33, false, at::kFloat},      // three rows, 2-D x
                      Case{{4, 1, 2048}, 257, true, at::kFloat},  // the most rows
                      Case{{1, 1, 64}, 96, false, at::kBFloat16},
                      Case{{1, 1, 61}, 95, true, at::kBFloat16},
                      Case{{2, 1, 200}, 7, true, at::kBFloat16},
                      Case{{3, 130}, 33, false, at::kBFloat16},
                      Case{{4, 1, 2048}, 257, true, at::kBFloat16}));

TEST(SmallBatchLinear, ActivationsThatAreViews) {
  torch::manual_seed(3);
  // The way a layer hands them over: a narrow of a wider projection (rows not contiguous).
  const at::Tensor wide = at::randn({2, 1, 3 * 80});
  const at::Tensor x = wide.narrow(2, 80, 80);
  const at::Tensor w = at::randn({40, 80});
  ASSERT_TRUE(SmallBatchLinearSupported(x, w, at::Tensor()));
  const at::Tensor reference = at::linear(x.to(at::kDouble), w.to(at::kDouble));
  EXPECT_LT(RelativeError(SmallBatchLinear(x, w, at::Tensor()), reference), 1e-5);
  // A transposed x (last dim strided) is copied, not misread.
  const at::Tensor xt = at::randn({80, 2}).t();
  ASSERT_TRUE(SmallBatchLinearSupported(xt, w, at::Tensor()));
  EXPECT_LT(RelativeError(SmallBatchLinear(xt, w, at::Tensor()),
                          at::linear(xt.to(at::kDouble), w.to(at::kDouble))),
            1e-5);
}

TEST(SmallBatchLinear, DeclinesWhatItDoesNotCompute) {
  const at::Tensor w = at::randn({8, 16});
  // More rows than it takes: a GEMM's job.
  EXPECT_FALSE(SmallBatchLinearSupported(at::randn({kSmallBatchMaxRows + 1, 16}), w, {}));
  // Mixed dtypes, a half-precision weight, a transposed (non-contiguous) weight, a wrong bias.
  EXPECT_FALSE(SmallBatchLinearSupported(at::randn({1, 16}), w.to(at::kBFloat16), {}));
  EXPECT_FALSE(SmallBatchLinearSupported(at::randn({1, 16}).to(at::kHalf), w.to(at::kHalf), {}));
  EXPECT_FALSE(SmallBatchLinearSupported(at::randn({1, 8}), at::randn({16, 8}).t(), {}));
  EXPECT_FALSE(SmallBatchLinearSupported(at::randn({1, 16}), w, at::randn({9})));
  // A gradient to record (training through the frozen LLM): autograd's linear.
  {
    torch::AutoGradMode grad(true);
    const at::Tensor x = at::randn({1, 16}).requires_grad_(true);
    EXPECT_FALSE(SmallBatchLinearSupported(x, w, {}));
    at::Tensor y = ApplyLinear(x, w);
    y.sum().backward();
    EXPECT_TRUE(x.grad().defined());
  }
  // ApplyLinear falls back to at::linear for a large batch and gives its result.
  const at::Tensor big = at::randn({9, 16});
  EXPECT_TRUE(at::equal(ApplyLinear(big, w), at::linear(big, w)));
}

}  // namespace
}  // namespace lmeye
