// The sampler on hand-made logits: greedy, temperature, top-k, top-p and repetition penalty
// against the Hugging Face formulas; seeded reproducibility, also inside different batches;
// parameter validation naming the field.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/generate/logits_processor.h"
#include "model/generate/sampler.h"
#include "model/generate/sampling_params.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Sampler> MakeSampler(const SamplingParams& params) {
  auto s = Sampler::Create(params);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

at::Tensor Logits(std::vector<float> v) { return at::tensor(v, at::kFloat); }

// Runs `processor` on a copy of `logits` ([V] float32).
at::Tensor Apply(const LogitsProcessor& processor, const at::Tensor& logits,
                 std::vector<int64_t> history = {}) {
  at::Tensor out = logits.clone().contiguous();
  processor.Process(history, absl::MakeSpan(out.data_ptr<float>(), out.numel()));
  return out;
}

// Empirical token frequencies over n draws.
std::vector<double> Frequencies(Sampler& sampler, const at::Tensor& logits, int n) {
  std::vector<double> freq(logits.size(0), 0.0);
  for (int i = 0; i < n; ++i) {
    auto t = sampler.Sample(logits, {});
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) freq[t->token] += 1.0 / n;
  }
  return freq;
}

TEST(GenerateSamplerTest, GreedyTakesArgmaxAndRawLogprob) {
  SamplingParams p;  // temperature 0
  auto s = MakeSampler(p);
  at::Tensor logits = Logits({0.5f, 3.0f, -1.0f, 2.9f});
  auto t = s->Sample(logits, {});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->token, 1);
  EXPECT_NEAR(t->logprob, logits.log_softmax(0)[1].item<float>(), 1e-6);
}

TEST(GenerateSamplerTest, TopKOneAndTinyTopPAreGreedy) {
  at::Tensor logits = at::randn({500}, at::TensorOptions().dtype(at::kFloat));
  const int64_t argmax = logits.argmax().item<int64_t>();
  for (int variant = 0; variant < 2; ++variant) {
    SamplingParams p;
    p.temperature = 1.5;
    p.seed = 7;
    if (variant == 0) p.top_k = 1;
    if (variant == 1) p.top_p = 1e-6;
    auto s = MakeSampler(p);
    for (int i = 0; i < 50; ++i) {
      auto t = s->Sample(logits, {});
      ASSERT_TRUE(t.ok());
      EXPECT_EQ(t->token, argmax) << "variant " << variant;
    }
  }
}

TEST(GenerateSamplerTest, TemperatureScalesTheDistribution) {
  at::Tensor logits = Logits({1.0f, 2.0f, 0.0f, 1.5f});
  for (double temperature : {0.5, 1.0, 2.0}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 1234;
    auto s = MakeSampler(p);
    const int n = 40000;
    std::vector<double> freq = Frequencies(*s, logits, n);
    at::Tensor expected = (logits / temperature).softmax(0);
    for (int i = 0; i < 4; ++i) {
      const double q = expected[i].item<double>();
      // 5 standard deviations of a binomial frequency.
      EXPECT_NEAR(freq[i], q, 5 * std::sqrt(q * (1 - q) / n) + 1e-9)
          << "T=" << temperature << " token " << i;
    }
  }
}

TEST(GenerateSamplerTest, TopKKeepsTheKLargestRenormalised) {
  at::Tensor logits = Logits({1.0f, 2.0f, 0.0f, 1.5f, -3.0f});
  SamplingParams p;
  p.temperature = 1.0;
  p.top_k = 2;
  p.seed = 99;
  auto s = MakeSampler(p);
  const int n = 20000;
  std::vector<double> freq = Frequencies(*s, logits, n);
  const double q1 = 1.0 / (1.0 + std::exp(1.5 - 2.0));  // softmax over {2.0, 1.5}
  EXPECT_NEAR(freq[1], q1, 5 * std::sqrt(q1 * (1 - q1) / n));
  EXPECT_NEAR(freq[3], 1 - q1, 5 * std::sqrt(q1 * (1 - q1) / n));
  EXPECT_EQ(freq[0] + freq[2] + freq[4], 0.0);
}

TEST(GenerateSamplerTest, TopKKeepsTiesLikeHf) {
  at::Tensor logits = Apply(TopKProcessor(1), Logits({1.0f, 2.0f, 2.0f, 0.0f}));
  EXPECT_TRUE(std::isinf(logits[0].item<float>()));
  EXPECT_EQ(logits[1].item<float>(), 2.0f);
  EXPECT_EQ(logits[2].item<float>(), 2.0f);
  EXPECT_TRUE(std::isinf(logits[3].item<float>()));
}

TEST(GenerateSamplerTest, TopPMatchesHfFormula) {
  // probs 0.5, 0.25, 0.125, 0.125 (log2 spacing): top_p 0.7 keeps {0, 1} (HF removes tokens
  // whose ascending cumulative probability is <= 0.3: 0.125, 0.25).
  at::Tensor logits = at::log(at::tensor({0.25, 0.5, 0.125, 0.125}, at::kFloat));
  at::Tensor processed = Apply(TopPProcessor(0.7), logits);
  EXPECT_TRUE(std::isfinite(processed[0].item<float>()));
  EXPECT_TRUE(std::isfinite(processed[1].item<float>()));
  EXPECT_TRUE(std::isinf(processed[2].item<float>()));
  EXPECT_TRUE(std::isinf(processed[3].item<float>()));
  // top_p 0.8: the ascending cumulative 0.125, 0.25 (<= 0.2 only the first), so three stay.
  processed = Apply(TopPProcessor(0.8), logits);
  EXPECT_EQ(at::isinf(processed).sum().item<int64_t>(), 1);
  // Sampling frequencies follow the renormalised kept set.
  SamplingParams p;
  p.temperature = 1.0;
  p.top_p = 0.7;
  p.seed = 5;
  auto s = MakeSampler(p);
  const int n = 20000;
  std::vector<double> freq = Frequencies(*s, logits, n);
  EXPECT_NEAR(freq[1], 2.0 / 3, 5 * std::sqrt(2.0 / 9 / n));
  EXPECT_EQ(freq[2] + freq[3], 0.0);
}

// The partial-sort top-p equals HF's full-sort formula, written with torch ops, on random rows
// of an OPT-size vocabulary (flat and peaked), and top-k equals HF's topk threshold.
TEST(GenerateSamplerTest, TopPAndTopKEqualHfTorchFormulas) {
  for (double scale : {0.5, 3.0, 10.0}) {
    at::Tensor logits = at::randn({50272}, at::TensorOptions().dtype(at::kFloat)) * scale;
    for (double top_p : {0.1, 0.5, 0.9, 0.99}) {
      auto sorted = logits.sort(/*dim=*/0, /*descending=*/false);
      at::Tensor cumulative = std::get<0>(sorted).softmax(0).cumsum(0);
      at::Tensor remove = cumulative <= (1.0 - top_p);
      remove.index_put_({-1}, false);
      at::Tensor hf = logits.clone();
      hf.index_fill_(0, std::get<1>(sorted).masked_select(remove), -INFINITY);
      at::Tensor ours = Apply(TopPProcessor(top_p), logits);
      // Float32 cumsum vs float64: allow a token or two at the boundary.
      const int64_t differ = (at::isinf(hf) != at::isinf(ours)).sum().item<int64_t>();
      EXPECT_LE(differ, 2) << "scale " << scale << " top_p " << top_p;
      EXPECT_GT(at::isfinite(ours).sum().item<int64_t>(), 0);
    }
    for (int k : {1, 50, 1000}) {
      at::Tensor kth = std::get<0>(logits.topk(k)).index({k - 1});
      at::Tensor hf = logits.masked_fill(logits < kth, -INFINITY);
      EXPECT_TRUE(at::equal(Apply(TopKProcessor(k), logits), hf)) << k;
    }
  }
}

TEST(GenerateSamplerTest, RepetitionPenaltyMatchesHfFormula) {
  at::Tensor logits = Logits({2.0f, -2.0f, 1.0f, -0.5f, 3.0f});
  // Token 0 twice: penalised once. Ids outside the vocabulary are ignored.
  at::Tensor processed = Apply(RepetitionPenaltyProcessor(1.3), logits, {0, 1, 0, 3, 77, -1});
  std::vector<float> expected = {2.0f / 1.3f, -2.0f * 1.3f, 1.0f, -0.5f * 1.3f, 3.0f};
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(processed[i].item<float>(), expected[i]) << i;
  // Greedy applies it too: 4 wins without history, 0 and 4 lose with a strong penalty.
  SamplingParams p;
  p.repetition_penalty = 2.0;
  auto s = MakeSampler(p);
  auto t = s->Sample(logits, {4});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, 0);  // 3 / 2 = 1.5 < 2
  // logprob is the model's raw one, not the penalised one.
  EXPECT_NEAR(t->logprob, logits.log_softmax(0)[0].item<float>(), 1e-6);
}

TEST(GenerateSamplerTest, SameSeedSameTokensDifferentSeedDifferent) {
  at::Tensor logits = at::randn({1000}, at::TensorOptions().dtype(at::kFloat));
  auto draw = [&](uint64_t seed) {
    SamplingParams p;
    p.temperature = 1.0;
    p.top_p = 0.95;
    p.seed = seed;
    auto s = MakeSampler(p);
    std::vector<int64_t> out;
    for (int i = 0; i < 32; ++i) out.push_back(s->Sample(logits, {}).value().token);
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(GenerateSamplerTest, UnseededSamplersDiffer) {
  SamplingParams p;
  p.temperature = 1.0;
  auto a = MakeSampler(p);
  auto b = MakeSampler(p);
  EXPECT_NE(a->seed(), b->seed());
}

// A request's tokens do not depend on what else is in the batch, nor on its row.
TEST(GenerateSamplerTest, SeededRequestIndependentOfBatch) {
  const int vocab = 300, steps = 20;
  at::Tensor request_logits = at::randn({steps, vocab}, at::TensorOptions().dtype(at::kFloat));
  SamplingParams mine;
  mine.temperature = 0.9;
  mine.top_k = 50;
  mine.repetition_penalty = 1.2;
  mine.seed = 2024;
  // Alone.
  std::vector<int64_t> alone;
  {
    auto s = MakeSampler(mine);
    for (int i = 0; i < steps; ++i) {
      alone.push_back(s->Sample(request_logits[i], alone).value().token);
    }
  }
  // In batches of 3 and 4 with other requests (greedy, sampled, unseeded) at other rows.
  for (int layout = 0; layout < 2; ++layout) {
    auto s = MakeSampler(mine);
    SamplingParams greedy, other;
    other.temperature = 1.3;
    other.top_p = 0.8;
    auto g = MakeSampler(greedy);
    auto o = MakeSampler(other);
    auto o2 = MakeSampler(other);
    std::vector<int64_t> got, hg, ho, ho2;
    for (int i = 0; i < steps; ++i) {
      at::Tensor noise = at::randn({4, vocab}, at::TensorOptions().dtype(at::kFloat));
      std::vector<Sampler*> samplers;
      std::vector<absl::Span<const int64_t>> histories;
      int my_row;
      if (layout == 0) {
        samplers = {g.get(), s.get(), o.get()};
        histories = {hg, got, ho};
        my_row = 1;
      } else {
        samplers = {o.get(), o2.get(), g.get(), s.get()};
        histories = {ho, ho2, hg, got};
        my_row = 3;
      }
      at::Tensor batch = noise.narrow(0, 0, samplers.size()).clone();
      batch[my_row].copy_(request_logits[i]);
      auto out = SampleBatch(batch, samplers, histories);
      ASSERT_TRUE(out.ok()) << out.status();
      got.push_back((*out)[my_row].token);
      if (layout == 0) {
        hg.push_back((*out)[0].token);
        ho.push_back((*out)[2].token);
      } else {
        ho.push_back((*out)[0].token);
        ho2.push_back((*out)[1].token);
        hg.push_back((*out)[2].token);
      }
    }
    EXPECT_EQ(got, alone) << "layout " << layout;
  }
}

TEST(GenerateSamplerTest, SampleBatchEqualsPerRowSample) {
  at::Tensor logits = at::randn({3, 64}, at::TensorOptions().dtype(at::kFloat));
  SamplingParams greedy, sampled;
  sampled.temperature = 1.0;
  sampled.seed = 3;
  auto g1 = MakeSampler(greedy), s1 = MakeSampler(sampled);
  auto g2 = MakeSampler(greedy), s2 = MakeSampler(sampled);
  std::vector<int64_t> h = {1, 2};
  std::vector<Sampler*> samplers = {g1.get(), s1.get(), g1.get()};
  std::vector<absl::Span<const int64_t>> histories = {h, h, h};
  auto batch = SampleBatch(logits, samplers, histories);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ((*batch)[0].token, g2->Sample(logits[0], h)->token);
  EXPECT_EQ((*batch)[1].token, s2->Sample(logits[1], h)->token);
  EXPECT_EQ((*batch)[2].token, g2->Sample(logits[2], h)->token);
  EXPECT_FLOAT_EQ((*batch)[1].logprob, logits[1].log_softmax(0)[(*batch)[1].token].item<float>());
  // Wrong shapes are errors, not crashes.
  EXPECT_FALSE(SampleBatch(logits[0], samplers, histories).ok());
  samplers.pop_back();
  EXPECT_FALSE(SampleBatch(logits, samplers, histories).ok());
}

// A batch of distinct samplers is sampled in parallel (SampleBatch): every row must still be
// what its sampler gives alone, step after step (RNG streams and histories per row).
TEST(GenerateSamplerTest, LargeBatchEqualsPerRowSampleOverSteps) {
  const int batch = 32, vocab = 500, steps = 4;
  std::vector<std::unique_ptr<Sampler>> batched, alone;
  for (int b = 0; b < batch; ++b) {
    SamplingParams p;
    if (b % 3 != 0) {
      p.temperature = 0.7 + 0.1 * (b % 5);
      p.top_k = b % 2 == 0 ? 0 : 40;
      p.repetition_penalty = 1.1;
      p.seed = 100 + b;
    }
    batched.push_back(MakeSampler(p));
    alone.push_back(MakeSampler(p));
  }
  std::vector<std::vector<int64_t>> h_batched(batch), h_alone(batch);
  for (int step = 0; step < steps; ++step) {
    at::Tensor logits = at::randn({batch, vocab}, at::TensorOptions().dtype(at::kFloat)) * 2;
    std::vector<Sampler*> samplers;
    std::vector<absl::Span<const int64_t>> histories;
    for (int b = 0; b < batch; ++b) {
      samplers.push_back(batched[b].get());
      histories.push_back(h_batched[b]);
    }
    auto out = SampleBatch(logits, samplers, histories);
    ASSERT_TRUE(out.ok()) << out.status();
    for (int b = 0; b < batch; ++b) {
      auto one = alone[b]->Sample(logits[b], h_alone[b]);
      ASSERT_TRUE(one.ok()) << one.status();
      EXPECT_EQ((*out)[b].token, one->token) << "row " << b << " step " << step;
      EXPECT_FLOAT_EQ((*out)[b].logprob, one->logprob);
      h_batched[b].push_back((*out)[b].token);
      h_alone[b].push_back(one->token);
    }
  }
}

TEST(GenerateSamplerTest, BadLogitsAreErrors) {
  SamplingParams p;
  auto s = MakeSampler(p);
  EXPECT_FALSE(s->Sample(at::zeros({2, 3}), {}).ok());
  EXPECT_FALSE(s->Sample(at::full({3}, -std::numeric_limits<float>::infinity()), {}).ok());
}

TEST(GenerateParamsTest, ValidateNamesTheField) {
  auto error = [](SamplingParams p) { return std::string(p.Validate().message()); };
  SamplingParams ok;
  EXPECT_TRUE(ok.Validate().ok());
  SamplingParams p;
  p.temperature = -1;
  EXPECT_THAT(error(p), HasSubstr("temperature"));
  p = {};
  p.temperature = std::nan("");
  EXPECT_THAT(error(p), HasSubstr("temperature"));
  p = {};
  p.top_k = -2;
  EXPECT_THAT(error(p), HasSubstr("top_k"));
  p = {};
  p.top_p = 0;
  EXPECT_THAT(error(p), HasSubstr("top_p"));
  p.top_p = 1.5;
  EXPECT_THAT(error(p), HasSubstr("top_p"));
  p = {};
  p.repetition_penalty = 0;
  EXPECT_THAT(error(p), HasSubstr("repetition_penalty"));
  p = {};
  p.max_new_tokens = 0;
  EXPECT_THAT(error(p), HasSubstr("max_new_tokens"));
  p = {};
  p.stop = {"a", ""};
  EXPECT_THAT(error(p), HasSubstr("stop[1]"));
  p.stop = std::vector<std::string>(SamplingParams::kMaxStopStrings + 1, "x");
  EXPECT_THAT(error(p), HasSubstr("stop"));
  p = {};
  p.eos_token_ids = {2, -5};
  EXPECT_THAT(error(p), HasSubstr("eos_token_ids"));
  EXPECT_EQ(p.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Sampler::Create(p).ok());

  auto beam_error = [](BeamSearchParams b) { return std::string(b.Validate().message()); };
  BeamSearchParams b;
  EXPECT_TRUE(b.Validate().ok());
  b.num_beams = 0;
  EXPECT_THAT(beam_error(b), HasSubstr("num_beams"));
  b = {};
  b.num_return_sequences = 6;
  EXPECT_THAT(beam_error(b), HasSubstr("num_return_sequences"));
  b = {};
  b.max_new_tokens = 0;
  EXPECT_THAT(beam_error(b), HasSubstr("max_new_tokens"));
  b = {};
  b.length_penalty = INFINITY;
  EXPECT_THAT(beam_error(b), HasSubstr("length_penalty"));
}

TEST(GenerateParamsTest, FinishReasonNames) {
  EXPECT_EQ(FinishReasonName(FinishReason::kStop), "stop");
  EXPECT_EQ(FinishReasonName(FinishReason::kEos), "eos");
  EXPECT_EQ(FinishReasonName(FinishReason::kLength), "length");
  EXPECT_EQ(FinishReasonName(FinishReason::kNone), "none");
}

}  // namespace
}  // namespace lmeye

namespace lmeye {
namespace {

// Speed probe (run with --gtest_also_run_disabled_tests): per-row sampling cost at an OPT vocab.
TEST(GenerateSamplerTest, DISABLED_SpeedProbe) {
  const int vocab = 50272, batch = 32;
  if (const char* threads = std::getenv("LMEYE_THREADS")) at::set_num_threads(std::atoi(threads));
  std::printf("%d intra-op threads\n", at::get_num_threads());
  at::Tensor logits = at::randn({batch, vocab}, at::TensorOptions().dtype(at::kFloat)) * 3;
  std::vector<int64_t> history(500);
  for (int i = 0; i < 500; ++i) history[i] = (i * 997) % vocab;
  for (int variant = 0; variant < 4; ++variant) {
    SamplingParams p;
    p.seed = 1;
    if (variant >= 1) p.temperature = 0.8;
    if (variant == 2) p.top_p = 0.95;
    if (variant == 3) p.top_k = 50;
    p.repetition_penalty = variant == 0 ? 1.0 : 1.1;
    std::vector<std::unique_ptr<Sampler>> owned;
    std::vector<Sampler*> samplers;
    std::vector<absl::Span<const int64_t>> histories;
    for (int b = 0; b < batch; ++b) {
      owned.push_back(Sampler::Create(p).value());
      samplers.push_back(owned.back().get());
      histories.push_back(history);
    }
    const auto start = std::chrono::steady_clock::now();
    const int reps = 5;
    for (int r = 0; r < reps; ++r) ASSERT_TRUE(SampleBatch(logits, samplers, histories).ok());
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count() /
        reps;
    std::printf("variant %d: %.2f ms per batch of %d (vocab %d)\n", variant, ms, batch, vocab);
  }
}

}  // namespace
}  // namespace lmeye
