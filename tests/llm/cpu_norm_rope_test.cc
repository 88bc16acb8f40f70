// CpuRmsNorm and CpuRope (LLaMA's norm and rotary embedding as one loop each) against the ATen
// ops they replace: the rotary embedding bit for bit (the same roundings in the same order), the
// norm within the float32 sum-of-squares order; float32 and bf16, views as the layers pass them.
#include "model/llm/cpu_norm_rope.h"

#include <cstdint>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lmeye {
namespace {

// transformers' LlamaRMSNorm written with ATen ops (what the layer ran before).
at::Tensor AtenRmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * h.to(x.scalar_type());
}

// x * cos + rotate_half(x) * sin with ATen ops.
at::Tensor AtenRope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos + rotated * sin;
}

class CpuNormRopeTest : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(CpuNormRopeTest, RmsNormMatchesAtenOps) {
  const at::ScalarType dtype = GetParam();
  torch::manual_seed(5);
  for (const int64_t dim : {64, 77, 2048}) {
    // Rows of a residual stream: large values, as late layers have.
    const at::Tensor x = (at::randn({3, 2, dim}) * 20).to(dtype);
    const at::Tensor w = (at::rand({dim}) + 0.5).to(dtype);
    ASSERT_TRUE(CpuRmsNormSupported(x, w));
    const at::Tensor ours = CpuRmsNorm(x, w, 1e-6);
    const at::Tensor theirs = AtenRmsNorm(x, w, 1e-6);
    ASSERT_EQ(ours.sizes(), theirs.sizes());
    ASSERT_EQ(ours.scalar_type(), dtype);
    // The scale differs by the sum's order (~1e-7 relative); a bf16 output may then round the
    // other way: one bf16 ulp (2^-8 relative) at most.
    const double tolerance = dtype == at::kBFloat16 ? 1.0 / 256 : 1e-6;
    const at::Tensor diff = (ours.to(at::kFloat) - theirs.to(at::kFloat)).abs();
    EXPECT_TRUE((diff <= theirs.to(at::kFloat).abs() * tolerance + 1e-30).all().item<bool>())
        << "dim " << dim << " max diff " << diff.max().item<float>();
  }
  // A view whose rows are not adjacent (a narrow of a wider tensor).
  const at::Tensor wide = at::randn({4, 96}).to(dtype);
  const at::Tensor x = wide.narrow(1, 16, 64);
  const at::Tensor w = at::rand({64}).to(dtype);
  ASSERT_TRUE(CpuRmsNormSupported(x, w));
  EXPECT_TRUE(at::allclose(CpuRmsNorm(x, w, 1e-5).to(at::kFloat),
                           AtenRmsNorm(x, w, 1e-5).to(at::kFloat), 1.0 / 128, 1e-6));
}

TEST_P(CpuNormRopeTest, RopeEqualsAtenOpsBitForBit) {
  const at::ScalarType dtype = GetParam();
  torch::manual_seed(9);
  const int64_t B = 2, T = 3, H = 4, Hkv = 2, D = 64;
  // q as the layer makes it: a view of the fused projection [B, T, (H + 2 Hkv) * D].
  const at::Tensor qkv = at::randn({B, T, (H + 2 * Hkv) * D}).to(dtype);
  const at::Tensor q = qkv.narrow(2, 0, H * D).view({B, T, H, D});
  const at::Tensor k = qkv.narrow(2, H * D, Hkv * D).view({B, T, Hkv, D});
  const at::Tensor angles = at::rand({B, T, 1, D / 2}) * 100;
  const at::Tensor emb = at::cat({angles, angles}, -1);
  const at::Tensor cos = emb.cos().to(dtype), sin = emb.sin().to(dtype);
  for (const at::Tensor& x : {q, k}) {
    ASSERT_TRUE(CpuRopeSupported(x, cos, sin));
    const at::Tensor ours = CpuRope(x, cos, sin);
    EXPECT_TRUE(ours.is_contiguous());
    EXPECT_TRUE(at::equal(ours, AtenRope(x, cos, sin)));
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CpuNormRopeTest, ::testing::Values(at::kFloat, at::kBFloat16));

TEST(CpuNormRope, DeclinesWhatItDoesNotCompute) {
  const at::Tensor x = at::randn({1, 1, 2, 8});
  const at::Tensor cs = at::randn({1, 1, 1, 8});
  EXPECT_FALSE(CpuRopeSupported(x.to(at::kHalf), cs.to(at::kHalf), cs.to(at::kHalf)));
  EXPECT_FALSE(CpuRopeSupported(x, cs.to(at::kBFloat16), cs));  // mixed dtypes
  EXPECT_FALSE(CpuRopeSupported(at::randn({1, 1, 2, 7}), at::randn({1, 1, 1, 7}),
                                at::randn({1, 1, 1, 7})));  // odd head dim
  EXPECT_FALSE(CpuRmsNormSupported(at::randn({2, 8}), at::randn({7})));
  EXPECT_FALSE(CpuRmsNormSupported(at::randn({8, 2}).t(), at::randn({8})));  // strided last dim
  torch::AutoGradMode grad(true);
  EXPECT_FALSE(CpuRmsNormSupported(at::randn({2, 8}).requires_grad_(true), at::randn({8})));
  EXPECT_FALSE(CpuRopeSupported(x.clone().requires_grad_(true), cs, cs));
}

}  // namespace
}  // namespace lmeye
