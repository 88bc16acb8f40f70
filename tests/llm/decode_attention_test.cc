// DecodeAttention (the in-place attention of a decode step) against the same math written with
// ATen ops in float64, for float32 and bf16, grouped-query heads, head dims with and without a
// compiled specialisation, slots in any order with holes, and rows of different lengths; and
// WriteDecodeKv against index_put_.
#include "model/llm/decode_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace lmeye {
namespace {

struct Case {
  int64_t n_slots, capacity, H, Hkv, D;
  std::vector<int64_t> slots;    // slot of each row
  std::vector<int64_t> lengths;  // keys each row attends (the rest of [0, L) is masked)
  at::ScalarType dtype;
};

struct Inputs {
  at::Tensor q, k_cache, v_cache, bias;  // as DecodeAttention takes them
  int64_t L = 0;
};

Inputs MakeInputs(const Case& c, bool alibi) {
  torch::manual_seed(7);
  Inputs in;
  const int64_t B = static_cast<int64_t>(c.slots.size()), G = c.H / c.Hkv;
  for (int64_t n : c.lengths) in.L = std::max(in.L, n);
  auto options = at::TensorOptions().dtype(c.dtype);
  in.k_cache = at::randn({c.n_slots, c.Hkv, c.capacity, c.D}, options);
  in.v_cache = at::randn({c.n_slots, c.Hkv, c.capacity, c.D}, options);
  // q as the model makes it: a view of the fused projection, rows not contiguous.
  in.q = at::randn({B, 1, c.H + 2 * c.Hkv, c.D}, options).narrow(2, 0, c.H);
  // The mask (half the lowest float past each row's length) and, optionally, an ALiBi-like
  // slope per head, laid out [B * Hkv, G, L] like the model's score bias.
  at::Tensor bias = at::zeros({B, c.Hkv, G, in.L}, at::kFloat);
  for (int64_t b = 0; b < B; ++b) {
    if (alibi) {
      at::Tensor slopes = at::arange(1, c.H + 1, at::kFloat).view({c.Hkv, G, 1}) * -0.05;
      bias[b] += slopes * at::arange(in.L, at::kFloat).view({1, 1, in.L});
    }
    bias[b]
        .narrow(2, c.lengths[b], in.L - c.lengths[b])
        .fill_(std::numeric_limits<float>::lowest() / 2);
  }
  in.bias = bias.view({B * c.Hkv, G, in.L}).to(c.dtype);
  return in;
}

// The same math in float64: each row's keys/values read from its slot, scores rounded to the
// compute dtype and probabilities too (as the generic path's GEMM outputs and casts are).
at::Tensor Reference(const Case& c, const Inputs& in, double alpha) {
  const int64_t B = static_cast<int64_t>(c.slots.size()), G = c.H / c.Hkv;
  std::vector<at::Tensor> rows;
  for (int64_t b = 0; b < B; ++b) {
    at::Tensor k = in.k_cache[c.slots[b]].narrow(1, 0, in.L).to(at::kDouble);  // [Hkv, L, D]
    at::Tensor v = in.v_cache[c.slots[b]].narrow(1, 0, in.L).to(at::kDouble);
    at::Tensor q = in.q[b][0].to(at::kDouble).view({c.Hkv, G, c.D});
    at::Tensor bias = in.bias.narrow(0, b * c.Hkv, c.Hkv).to(at::kDouble);  // [Hkv, G, L]
    at::Tensor scores = (alpha * at::matmul(q, k.transpose(1, 2)) + bias).to(c.dtype);
    at::Tensor probs = at::softmax(scores.to(at::kDouble), -1).to(c.dtype).to(at::kDouble);
    rows.push_back(at::matmul(probs, v).reshape({1, 1, c.H * c.D}));
  }
  return at::cat(rows, 0);
}

void ExpectMatches(const Case& c, bool alibi, double tolerance) {
  torch::NoGradGuard no_grad;
  const Inputs in = MakeInputs(c, alibi);
  ASSERT_TRUE(DecodeAttentionSupported(in.q, in.k_cache, in.v_cache));
  const double alpha = 1.0 / std::sqrt(static_cast<double>(c.D));
  at::Tensor out = DecodeAttention(in.q, in.k_cache, in.v_cache, c.slots, in.bias, in.L, alpha);
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{static_cast<int64_t>(c.slots.size()), 1, c.H * c.D}));
  ASSERT_EQ(out.scalar_type(), c.dtype);
  const double diff = (out.to(at::kDouble) - Reference(c, in, alpha)).abs().max().item<double>();
  EXPECT_LE(diff, tolerance);
}

TEST(DecodeAttentionTest, Float32GroupedHeadsSlotsOutOfOrderWithHoles) {
  // Slots 5, 0, 3 of 7 (1, 2, 4 and 6 unused), lengths 37, 1, 20: L = 37, not a multiple of 4.
  ExpectMatches({7, 48, 8, 2, 64, {5, 0, 3}, {37, 1, 20}, at::kFloat}, false, 1e-5);
}

TEST(DecodeAttentionTest, Float32AlibiBias) {
  ExpectMatches({4, 32, 4, 4, 64, {2, 3}, {30, 17}, at::kFloat}, true, 1e-5);
}

TEST(DecodeAttentionTest, Float32HeadDimWithoutSpecialisation) {
  // D = 40: the generic loops, with a tail after two 16-lane blocks.
  ExpectMatches({3, 16, 6, 3, 40, {1, 2, 0}, {9, 16, 3}, at::kFloat}, false, 1e-5);
}

TEST(DecodeAttentionTest, Bf16MatchesWithinRounding) {
  // Head dims 64 and 128; the bf16 output has 8 bits, so one unit in the last place of values
  // near 1 is 2^-7.
  ExpectMatches({5, 64, 12, 12, 64, {4, 1, 2, 0}, {64, 33, 5, 50}, at::kBFloat16}, false, 1e-2);
  ExpectMatches({3, 40, 8, 2, 128, {2, 0}, {40, 7}, at::kBFloat16}, true, 1e-2);
}

TEST(DecodeAttentionTest, ARowDoesNotDependOnItsBatch) {
  torch::NoGradGuard no_grad;
  const Case c{6, 32, 4, 2, 64, {4, 1, 5, 0}, {25, 3, 32, 12}, at::kBFloat16};
  const Inputs in = MakeInputs(c, false);
  at::Tensor batch = DecodeAttention(in.q, in.k_cache, in.v_cache, c.slots, in.bias, in.L, 0.125);
  for (int64_t b = 0; b < 4; ++b) {
    at::Tensor alone = DecodeAttention(in.q.narrow(0, b, 1), in.k_cache, in.v_cache, {c.slots[b]},
                                       in.bias.narrow(0, b * c.Hkv, c.Hkv), in.L, 0.125);
    EXPECT_TRUE(at::equal(alone[0], batch[b])) << "row " << b;
  }
}

TEST(DecodeAttentionTest, SupportedOnlyWithoutAutogradForFloatAndBf16OnCpu) {
  at::Tensor cache = at::zeros({1, 1, 4, 8}, at::kFloat);
  at::Tensor q = at::zeros({1, 1, 1, 8}, at::kFloat);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(DecodeAttentionSupported(q, cache, cache));
    EXPECT_FALSE(
        DecodeAttentionSupported(q.to(at::kHalf), cache.to(at::kHalf), cache.to(at::kHalf)));
    EXPECT_FALSE(DecodeAttentionSupported(q, cache.to(at::kBFloat16), cache));
    EXPECT_FALSE(DecodeAttentionSupported(q, cache.transpose(2, 3), cache));
  }
  // Training runs the LLM with grad mode on: the generic path keeps the autograd graph.
  EXPECT_FALSE(DecodeAttentionSupported(q, cache, cache));
}

// WriteDecodeKv stores what index_put_ stores: rows taken from a strided view (as the model's
// fused projection gives them), slots out of order, rows at different positions.
TEST(DecodeAttentionTest, WriteDecodeKvEqualsIndexPut) {
  torch::NoGradGuard no_grad;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    torch::manual_seed(3);
    const int64_t B = 3, Hkv = 2, D = 64;
    const std::vector<int64_t> slots = {4, 0, 2}, positions = {7, 0, 15};
    auto options = at::TensorOptions().dtype(dtype);
    at::Tensor k_cache = at::randn({5, Hkv, 16, D}, options);
    at::Tensor v_cache = at::randn({5, Hkv, 16, D}, options);
    at::Tensor fused = at::randn({B, 1, 4 * Hkv, D}, options);  // [q | k | v]-like rows
    at::Tensor k_new = fused.narrow(2, 2 * Hkv, Hkv).reshape({B, Hkv, D});
    at::Tensor v_new = fused.narrow(2, 3 * Hkv, Hkv).reshape({B, Hkv, D});
    ASSERT_FALSE(k_new.is_contiguous());
    at::Tensor k_want = k_cache.clone(), v_want = v_cache.clone();
    using at::indexing::Slice;
    at::Tensor s = at::tensor(slots, at::kLong), p = at::tensor(positions, at::kLong);
    k_want.index_put_({s, Slice(), p}, k_new);
    v_want.index_put_({s, Slice(), p}, v_new);
    WriteDecodeKv(k_cache, v_cache, slots, positions, k_new, v_new);
    EXPECT_TRUE(at::equal(k_cache, k_want));
    EXPECT_TRUE(at::equal(v_cache, v_want));
    // Out of the cache: refused, nothing written past it.
    EXPECT_THROW(WriteDecodeKv(k_cache, v_cache, {4, 0, 5}, positions, k_new, v_new), c10::Error);
    EXPECT_THROW(WriteDecodeKv(k_cache, v_cache, slots, {7, 16, 0}, k_new, v_new), c10::Error);
    EXPECT_THROW(
        WriteDecodeKv(k_cache, v_cache, slots, positions, k_new.to(at::kHalf), v_new.to(at::kHalf)),
        c10::Error);
  }
}

}  // namespace
}  // namespace lmeye
