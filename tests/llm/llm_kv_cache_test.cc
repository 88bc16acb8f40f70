// The KV cache API against full recomputation: the d.* goldens (prefix + one step), ragged
// prefill and decode over sequences of different lengths (left/right padded), the IPN second
// pass (truncate to P, append one embedding), continuous batching (sequences join and leave,
// slots in any order), CopySlot, and errors that leave the cache unchanged.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "tests/llm/llm_test_util.h"

namespace lmeye {
namespace {

using namespace ::lmeye::testing;  // NOLINT

at::Tensor Row(const std::vector<int64_t>& ids) { return at::tensor(ids, at::kLong).unsqueeze(0); }

class LlmKvCacheTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    f_ = LoadLlmFixture(GetParam());
    ASSERT_NE(f_.model, nullptr);
    last_.logits = LogitsAt::kLast;
  }

  // Logits after the last token of `ids`, by one full forward.
  at::Tensor FullLast(const std::vector<int64_t>& ids) const {
    LlmInput in;
    in.input_ids = Row(ids);
    auto out = f_.model->Forward(in, last_);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->logits[0] : at::Tensor();
  }

  std::unique_ptr<KvCache> Cache(int n_slots, int capacity) const {
    auto cache = f_.model->NewCache(n_slots, capacity);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? std::move(*cache) : nullptr;
  }

  LlmFixture f_;
  LlmOutputOptions last_;
  torch::NoGradGuard no_grad_;
};

TEST_P(LlmKvCacheTest, GoldenPrefixThenOneStep) {
  at::Tensor ids = f_.Get("d.input_ids");
  const int64_t B = ids.size(0), T = ids.size(1);
  auto cache = Cache(B, T);
  std::vector<int> slots;
  for (int64_t b = 0; b < B; ++b) slots.push_back(*cache->Allocate());
  LlmInput prefix, step;
  prefix.input_ids = ids.narrow(1, 0, T - 1);
  step.input_ids = ids.narrow(1, T - 1, 1);
  ASSERT_TRUE(f_.model->Step(prefix, *cache, slots, last_).ok());
  EXPECT_EQ(cache->length(slots[1]), T - 1);
  auto out = f_.model->Step(step, *cache, slots, last_);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectMatchesGolden(GetParam() + " d.step_logits_last", out->logits,
                      f_.Get("d.step_logits_last"));
  LlmInput full;
  full.input_ids = ids;
  auto ref = f_.model->Forward(full, last_);
  ASSERT_TRUE(ref.ok());
  EXPECT_TRUE(MatchesGolden(ref->logits, f_.Get("d.full_logits_last")));
  EXPECT_TRUE(MatchesGolden(out->logits, ref->logits));
}

// Prefill 3 sequences of lengths 3, 7, 5 in one padded call, then decode 4 steps; every step
// equals a full forward of each sequence so far.
TEST_P(LlmKvCacheTest, RaggedPrefillAndDecodeEqualFullForward) {
  const int64_t V = f_.model->config().vocab_size;
  for (bool left : {false, true}) {
    std::vector<std::vector<int64_t>> seqs = {Tokens(3, 1, V), Tokens(7, 2, V), Tokens(5, 3, V)};
    const int64_t T = 7;
    at::Tensor ids = at::zeros({3, T}, at::kLong), mask = at::zeros({3, T}, at::kLong);
    for (int b = 0; b < 3; ++b) {
      const int64_t n = seqs[b].size(), start = left ? T - n : 0;
      ids[b].narrow(0, start, n).copy_(at::tensor(seqs[b], at::kLong));
      mask[b].narrow(0, start, n).fill_(1);
    }
    auto cache = Cache(3, 16);
    std::vector<int> slots = {*cache->Allocate(), *cache->Allocate(), *cache->Allocate()};
    LlmInput prefill;
    prefill.input_ids = ids;
    prefill.attention_mask = mask;
    auto out = f_.model->Step(prefill, *cache, slots, last_);
    ASSERT_TRUE(out.ok()) << out.status();
    for (int step = 0; step < 4; ++step) {
      for (int b = 0; b < 3; ++b) {
        EXPECT_EQ(cache->length(slots[b]), static_cast<int>(seqs[b].size()));
        EXPECT_TRUE(MatchesGolden(out->logits[b], FullLast(seqs[b])))
            << (left ? "left" : "right") << " row " << b << " step " << step;
      }
      std::vector<int64_t> next;
      for (int b = 0; b < 3; ++b) {
        next.push_back((step * 53 + b * 7 + 11) % V);
        seqs[b].push_back(next.back());
      }
      LlmInput in;
      in.input_ids = at::tensor(next, at::kLong).unsqueeze(1);
      out = f_.model->Step(in, *cache, slots, last_);
      ASSERT_TRUE(out.ok()) << out.status();
    }
  }
}

// The IPN second pass: the first pass ends with a placeholder embedding; truncating the cache
// to P and appending another embedding equals a full forward over the new sequence.
TEST_P(LlmKvCacheTest, TruncateAndAppendEmbedding) {
  const int64_t V = f_.model->config().vocab_size, D = f_.model->config().embed_dim;
  at::Tensor prompt = f_.model->EmbedTokens(Row(Tokens(6, 4, V))).value();  // [1, 6, D]
  at::Tensor slot_a = f_.Get("b.inputs_embeds")[0][0].view({1, 1, D});
  at::Tensor slot_b = f_.Get("b.inputs_embeds")[1][3].view({1, 1, D});
  auto cache = Cache(2, 16);
  std::vector<int> slots = {*cache->Allocate()};
  LlmInput first;
  first.inputs_embeds = at::cat({prompt, slot_a}, 1);
  LlmOutputOptions hidden;
  hidden.logits = LogitsAt::kNone;
  auto out1 = f_.model->Step(first, *cache, slots, hidden);
  ASSERT_TRUE(out1.ok()) << out1.status();
  EXPECT_FALSE(out1->logits.defined());
  // The first pass's hidden state at the slot equals a full forward's.
  auto full1 = f_.model->Forward(first);
  ASSERT_TRUE(full1.ok());
  EXPECT_TRUE(MatchesGolden(out1->last_hidden_state, full1->last_hidden_state));
  EXPECT_TRUE(at::equal(out1->last_token_state, out1->last_hidden_state.select(1, 6)));

  ASSERT_TRUE(cache->Truncate(slots[0], 6).ok());
  LlmInput second;
  second.inputs_embeds = slot_b;
  LlmOutputOptions both;
  auto out2 = f_.model->Step(second, *cache, slots, both);
  ASSERT_TRUE(out2.ok()) << out2.status();
  EXPECT_EQ(cache->length(slots[0]), 7);
  LlmInput recompute;
  recompute.inputs_embeds = at::cat({prompt, slot_b}, 1);
  auto full2 = f_.model->Forward(recompute);
  ASSERT_TRUE(full2.ok());
  ExpectMatchesGolden(GetParam() + " second pass vs full recompute", out2->logits[0][0],
                      full2->logits[0][6]);
  EXPECT_TRUE(MatchesGolden(out2->last_hidden_state[0][0], full2->last_hidden_state[0][6]));
}

// Sequences join and leave between steps; batches use slots in any order.
TEST_P(LlmKvCacheTest, ContinuousBatching) {
  const int64_t V = f_.model->config().vocab_size;
  auto cache = Cache(4, 32);
  std::vector<int64_t> a = Tokens(5, 10, V), b = Tokens(3, 11, V), c = Tokens(8, 12, V);
  const int sa = *cache->Allocate();
  LlmInput in;
  in.input_ids = Row(a);
  ASSERT_TRUE(f_.model->Step(in, *cache, {sa}, last_).ok());
  const int sb = *cache->Allocate();
  in.input_ids = Row(b);
  ASSERT_TRUE(f_.model->Step(in, *cache, {sb}, last_).ok());
  // A decode step over {b, a} (descending slots: the gather path).
  a.push_back(17);
  b.push_back(23);
  in.input_ids = at::tensor({23L, 17L}, at::kLong).unsqueeze(1);
  auto out = f_.model->Step(in, *cache, {sb, sa}, last_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(MatchesGolden(out->logits[0], FullLast(b)));
  EXPECT_TRUE(MatchesGolden(out->logits[1], FullLast(a)));
  // a leaves; c joins and takes a's slot; one step prefills c while b decodes.
  ASSERT_TRUE(cache->Release(sa).ok());
  const int sc = *cache->Allocate();
  EXPECT_EQ(sc, sa);
  EXPECT_EQ(cache->length(sc), 0);
  b.push_back(29);
  at::Tensor ids = at::zeros({2, 8}, at::kLong), mask = at::zeros({2, 8}, at::kLong);
  ids[0].copy_(at::tensor(c, at::kLong));
  mask[0].fill_(1);
  ids[1][0] = 29;
  mask[1][0] = 1;
  in.input_ids = ids;
  in.attention_mask = mask;
  out = f_.model->Step(in, *cache, {sc, sb}, last_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(MatchesGolden(out->logits[0], FullLast(c)));
  EXPECT_TRUE(MatchesGolden(out->logits[1], FullLast(b)));
  EXPECT_EQ(cache->length(sc), 8);
  EXPECT_EQ(cache->length(sb), 5);

  // CopySlot forks b; the two continue differently.
  const int sd = *cache->Allocate();
  ASSERT_TRUE(cache->CopySlot(sb, sd).ok());
  std::vector<int64_t> d = b;
  b.push_back(31);
  d.push_back(37);
  in = LlmInput();
  in.input_ids = at::tensor({31L, 37L}, at::kLong).unsqueeze(1);
  out = f_.model->Step(in, *cache, {sb, sd}, last_);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(MatchesGolden(out->logits[0], FullLast(b)));
  EXPECT_TRUE(MatchesGolden(out->logits[1], FullLast(d)));
}

// A decode batch in slot order with holes (slots held by sequences not in the batch) is read as
// runs of consecutive slots, in place: {0,1,2} {4,5,6} {8,9} here. Every row must equal its own
// full forward, whatever run it falls in and whatever the held slots contain.
TEST_P(LlmKvCacheTest, DecodeOverSlotRunsWithHoles) {
  const int64_t V = f_.model->config().vocab_size;
  auto cache = Cache(10, 32);
  std::vector<std::vector<int64_t>> seqs;
  for (int s = 0; s < 10; ++s) {
    ASSERT_EQ(*cache->Allocate(), s);
    seqs.push_back(Tokens(3 + (s * 5) % 7, 20 + s, V));
    LlmInput in;
    in.input_ids = Row(seqs[s]);
    ASSERT_TRUE(f_.model->Step(in, *cache, {s}, last_).ok());
  }
  const std::vector<int> slots = {0, 1, 2, 4, 5, 6, 8, 9};
  std::vector<int64_t> next;
  for (int s : slots) {
    next.push_back((s * 41 + 3) % V);
    seqs[s].push_back(next.back());
  }
  LlmInput in;
  in.input_ids = at::tensor(next, at::kLong).unsqueeze(1);
  auto out = f_.model->Step(in, *cache, slots, last_);
  ASSERT_TRUE(out.ok()) << out.status();
  for (size_t b = 0; b < slots.size(); ++b) {
    EXPECT_TRUE(MatchesGolden(out->logits[b], FullLast(seqs[slots[b]]))) << "slot " << slots[b];
    EXPECT_EQ(cache->length(slots[b]), static_cast<int>(seqs[slots[b]].size()));
  }
  // The held slots were neither read into another row nor written.
  EXPECT_EQ(cache->length(3), static_cast<int>(seqs[3].size()));
  EXPECT_EQ(cache->length(7), static_cast<int>(seqs[7].size()));
}

TEST_P(LlmKvCacheTest, ErrorsLeaveTheCacheUnchanged) {
  auto cache = Cache(2, 4);
  const int s = *cache->Allocate();
  LlmInput in;
  in.input_ids = at::ones({1, 3}, at::kLong);
  ASSERT_TRUE(f_.model->Step(in, *cache, {s}, last_).ok());
  in.input_ids = at::ones({1, 2}, at::kLong);
  auto over = f_.model->Step(in, *cache, {s}, last_);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_EQ(cache->length(s), 3);
  EXPECT_EQ(f_.model->Step(in, *cache, {1}, last_).status().code(),
            absl::StatusCode::kInvalidArgument);  // slot 1 not allocated
  in.input_ids = at::ones({2, 1}, at::kLong);
  EXPECT_EQ(f_.model->Step(in, *cache, {s, s}, last_).status().code(),
            absl::StatusCode::kInvalidArgument);  // duplicate slot
  in.input_ids = at::ones({1, 1}, at::kLong);
  in.position_ids = at::zeros({1, 1}, at::kLong);
  EXPECT_EQ(f_.model->Step(in, *cache, {s}, last_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(cache->Truncate(s, 4).ok());
  EXPECT_TRUE(cache->Truncate(s, 1).ok());
  EXPECT_EQ(cache->length(s), 1);
  const int s2 = *cache->Allocate();
  EXPECT_EQ(cache->Allocate().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(cache->Release(s2).ok());
  EXPECT_FALSE(cache->Release(s2).ok());
  EXPECT_EQ(cache->n_free(), 1);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LlmKvCacheTest,
                         ::testing::Values("opt-tiny", "bloom-tiny", "llama-tiny"));

}  // namespace
}  // namespace lmeye
