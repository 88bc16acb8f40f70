// Weight-only int8: the Q8_0 numbers, the decode kernel and the GEMM route against float64
// references, and an LLM with int8 weights against the same LLM given the dequantized weights.
#include "model/llm/int8_weight.h"

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "model/llm/small_batch_linear.h"
#include "tests/llm/llm_test_util.h"

namespace lmeye {
namespace {

using testing::LlmFixture;
using testing::LoadLlmFixture;
using testing::MaxAbsDiff;

at::Tensor Random(std::vector<int64_t> sizes, uint64_t seed, double scale = 1.0) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  return at::normal(0.0, scale, sizes, gen);
}

TEST(Int8WeightTest, BlocksAreGgmlQ8_0) {
  std::vector<float> x(kInt8Block);
  for (int j = 0; j < kInt8Block; ++j) x[j] = 0.37f * static_cast<float>(j - 11);
  x[5] = -12.7f;  // the largest magnitude is negative: q = -127 there
  int8_t q[kInt8Block];
  const float d = QuantizeQ8_0Block(x.data(), q);
  const float exact = 12.7f / 127.0f;
  EXPECT_EQ(d, static_cast<float>(c10::Half(exact)));
  EXPECT_EQ(q[5], -127);
  for (int j = 0; j < kInt8Block; ++j) {
    EXPECT_EQ(q[j], static_cast<int8_t>(std::roundf(x[j] * (1.0f / exact)))) << j;
  }
  std::vector<float> zeros(kInt8Block, 0.0f);
  EXPECT_EQ(QuantizeQ8_0Block(zeros.data(), q), 0.0f);
  for (int j = 0; j < kInt8Block; ++j) EXPECT_EQ(q[j], 0);
}

TEST(Int8WeightTest, QuantizeAndDequantize) {
  at::Tensor w = Random({7, 3 * kInt8Block}, 1);
  Int8Weight q = QuantizeInt8(w);
  ASSERT_EQ(q.values.sizes(), w.sizes());
  ASSERT_EQ(q.scales.sizes(), (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(q.values.scalar_type(), at::kChar);
  // Each block by the block function.
  for (int64_t n = 0; n < 7; ++n) {
    for (int64_t b = 0; b < 3; ++b) {
      int8_t expect[kInt8Block];
      at::Tensor block = w[n].narrow(0, b * kInt8Block, kInt8Block).contiguous();
      EXPECT_EQ(q.scales[n][b].item<float>(), QuantizeQ8_0Block(block.data_ptr<float>(), expect));
      for (int j = 0; j < kInt8Block; ++j) {
        ASSERT_EQ(q.values[n][b * kInt8Block + j].item<int8_t>(), expect[j]);
      }
    }
  }
  // Within about half a step of the original (the fp16 scale adds up to 127 * 2^-11 steps).
  at::Tensor f = DequantizeInt8(q, at::kFloat);
  at::Tensor step = q.scales.repeat_interleave(kInt8Block, 1);
  EXPECT_TRUE(((f - w).abs() <= 0.57 * step).all().item<bool>());
  // bf16: the float value rounded once.
  EXPECT_TRUE(at::equal(DequantizeInt8(q, at::kBFloat16), f.to(at::kBFloat16)));
  EXPECT_FALSE(Int8Quantizable(Random({4, 40}, 2)));  // rows not whole blocks
  EXPECT_FALSE(Int8Quantizable(Random({40}, 2)));
  EXPECT_TRUE(Int8Quantizable(Random({4, 64}, 2).to(at::kBFloat16)));
}

struct KernelCase {
  int64_t M, N, K;
  at::ScalarType dtype;
  bool bias;
};

// Every row count the kernel takes (in passes of four over a weight block), row blocks with a
// remainder, both activation dtypes, with and without bias; then the GEMM route, in one weight
// tile and in several.
TEST(Int8WeightTest, LinearMatchesDequantizedFloat64) {
  std::vector<KernelCase> cases;
  for (int64_t M = 1; M <= kSmallBatchMaxRowsInt8 + 3; ++M) {
    for (at::ScalarType t : {at::kFloat, at::kBFloat16}) {
      cases.push_back({M, 37, 4 * kInt8Block, t, M % 2 == 1});
    }
  }
  cases.push_back({1, 8, kInt8Block, at::kFloat, false});
  // The GEMM route over several weight tiles (about 512 KiB each), the last one short.
  for (at::ScalarType t : {at::kFloat, at::kBFloat16}) {
    cases.push_back({40, 300, 64 * kInt8Block, t, true});
  }
  for (const KernelCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "M=" << c.M << " N=" << c.N << " K=" << c.K << " "
                                      << c.dtype << (c.bias ? " bias" : ""));
    Int8Weight w = QuantizeInt8(Random({c.N, c.K}, 3, 0.05));
    at::Tensor x = Random({c.M, c.K}, 4).to(c.dtype);
    at::Tensor b = c.bias ? Random({c.N}, 5).to(c.dtype) : at::Tensor();
    at::Tensor ref = at::matmul(x.to(at::kDouble), DequantizeInt8(w, at::kDouble).t());
    if (c.bias) ref = ref + b.to(at::kDouble);
    EXPECT_EQ(SmallBatchLinearSupported(x, w, b), c.M <= kSmallBatchMaxRowsInt8);
    at::Tensor y = ApplyLinear(x, w, b);
    ASSERT_EQ(y.scalar_type(), c.dtype);
    ASSERT_EQ(y.sizes(), ref.sizes());
    const double scale = ref.abs().max().item<double>();
    // float32: summation order only. bf16: the output's rounding (2^-9 relative), and on the
    // GEMM route the weight's rounding to bf16 too.
    const double bound = c.dtype == at::kFloat ? 1e-5 * scale : 1.6e-2 * scale;
    EXPECT_LE(MaxAbsDiff(y, ref), bound);
  }
}

TEST(Int8WeightTest, LeadingDimsViewsAndGradients) {
  Int8Weight w = QuantizeInt8(Random({16, 2 * kInt8Block}, 6, 0.05));
  at::Tensor full = Random({2, 3, 2 * 2 * kInt8Block}, 7);
  at::Tensor x = full.narrow(-1, 5, 2 * kInt8Block);  // rows are not contiguous
  at::Tensor y = ApplyLinear(x, w);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 16}));
  at::Tensor ref = at::matmul(x.to(at::kDouble), DequantizeInt8(w, at::kDouble).t());
  EXPECT_LE(MaxAbsDiff(y, ref), 1e-5 * ref.abs().max().item<double>());
  // Autograd through x: the GEMM route, which records it.
  at::Tensor xg = Random({2, 2 * kInt8Block}, 8).requires_grad_(true);
  EXPECT_FALSE(SmallBatchLinearSupported(xg, w, at::Tensor()));
  ApplyLinear(xg, w).sum().backward();
  at::Tensor expect = DequantizeInt8(w, at::kFloat).sum(0).expand({2, 2 * kInt8Block});
  EXPECT_TRUE(at::allclose(xg.grad(), expect, 1e-5, 1e-6));
}

// The LLM with int8 weights computes what the float32 LLM computes once its quantizable
// weights are replaced by their dequantized Q8_0 values: one GEMM route (a padded batch's many
// rows) and one kernel route (a single short row). llama-tiny: an untied head, and a
// down_proj of width 172, which is not whole blocks and stays dense.
TEST(Int8LlmTest, EqualsTheDequantizedModel) {
  LlmFixture f = LoadLlmFixture("llama-tiny");
  ASSERT_NE(f.model, nullptr);
  LlmLoadOptions int8_options;
  int8_options.int8_weights = true;
  auto int8 = LlmModel::Load(f.dir, int8_options);
  ASSERT_TRUE(int8.ok()) << int8.status();
  EXPECT_TRUE((*int8)->int8_weights());
  int released = 0, dense = 0;
  for (const auto& [name, t] : (*int8)->NamedTensors()) {
    if (t.numel() == 0) ++released;
    if (name.find("down_proj.weight") != std::string::npos) dense += t.numel() > 0;
  }
  EXPECT_EQ(released, 6 * (*int8)->config().n_layers + 1) << "q k v o gate up, and lm_head";
  EXPECT_EQ(dense, (*int8)->config().n_layers);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : f.model->NamedTensors()) {
      if (name.find("embed_tokens") == std::string::npos && Int8Quantizable(t)) {
        at::Tensor(t).copy_(DequantizeInt8(QuantizeInt8(t), at::kFloat));
      }
    }
  }
  LlmInput batch;
  batch.input_ids = f.Get("a_left.input_ids");
  batch.attention_mask = f.Get("a_left.attention_mask");
  LlmInput one;
  one.input_ids = batch.input_ids.narrow(0, 0, 1).narrow(1, 0, 3);
  for (const LlmInput* in : {&batch, &one}) {
    auto want = f.model->Forward(*in);
    auto got = (*int8)->Forward(*in);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_TRUE(testing::MatchesGolden(got->logits, want->logits));
  }
}

// Against the transformers goldens, as the bf16 test in llm_forward_test: int8 weights with bf16
// activations stay within a tenth of the logits' scale and mostly pick the same token.
class Int8GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Int8GoldenTest, LogitsNearGoldens) {
  torch::NoGradGuard no_grad;
  const std::string dir = testing::TestData("models/" + GetParam());
  LlmLoadOptions options;
  options.dtype = at::kBFloat16;
  options.int8_weights = true;
  auto model = LlmModel::Load(dir, options);
  ASSERT_TRUE(model.ok()) << model.status();
  LlmFixture f = LoadLlmFixture(GetParam());
  LlmInput in;
  in.input_ids = f.Get("a_left.input_ids");
  in.attention_mask = f.Get("a_left.attention_mask");
  testing::HfPositions(f.model->config(), in);
  auto out = (*model)->Forward(in);
  ASSERT_TRUE(out.ok()) << out.status();
  at::Tensor real = testing::RealPositions(in.attention_mask);
  at::Tensor golden = f.Get("a_left.logits");
  const double d = MaxAbsDiff(out->logits, golden, real);
  const double scale = golden.abs().max().item<double>();
  std::printf("%s int8 a_left.logits max abs diff %.3g (max |logit| %.3g)\n", GetParam().c_str(), d,
              scale);
  EXPECT_LE(d, 0.1 * scale);
  at::Tensor agree = (out->logits.argmax(-1) == golden.argmax(-1)).masked_select(real.squeeze(-1));
  EXPECT_GE(agree.to(at::kFloat).mean().item<float>(), 0.7f);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Int8GoldenTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

TEST(Int8LlmTest, CudaIsRefused) {
  LlmLoadOptions options;
  options.int8_weights = true;
  options.device = at::Device(at::kCUDA, 0);
  auto model = LlmModel::Load(testing::TestData("models/llama-tiny"), options);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(std::string(model.status().message()).find("CPU only"), std::string::npos);
}

}  // namespace
}  // namespace lmeye
