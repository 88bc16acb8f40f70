// The per-request token chooser: logits row in, next token and its log-probability out.
//
// Reproducibility: each Sampler owns its request's RNG (std::mt19937_64 seeded from
// SamplingParams::seed), draws exactly one number per sampled token, and sees only its own row
// of logits, so the same seed and logits give the same tokens whatever else is in the batch and
// in whatever order rows are processed. The draw is an inverse-CDF lookup over the processed
// row's softmax (accumulated in float64, on the host) with a uniform built from the
// generator's raw bits (not std::uniform_real_distribution, whose algorithm differs between
// standard libraries). The same seed gives the same tokens on the same logits; logits that
// differ in the last bits (another device, dtype or kernel) can flip a draw at a boundary.
//
// Threading: a Sampler belongs to one request and is used by one thread at a time (the
// scheduler's). SampleBatch is a helper for that thread.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/generate/logits_processor.h"
#include "model/generate/sampling_params.h"

namespace lmeye {

struct SampledToken {
  int64_t token = -1;
  // log softmax of the model's raw logits at `token` (before penalty, temperature, top-k/p):
  // the model's own likelihood, comparable across requests with different parameters.
  float logprob = 0.0f;
};

class Sampler {
 public:
  // `params` must be valid (SamplingParams::Validate); INVALID_ARGUMENT otherwise.
  static absl::StatusOr<std::unique_ptr<Sampler>> Create(const SamplingParams& params);

  // logits: [V], any float dtype, any device. history: the request's prompt and generated ids
  // (for the repetition penalty). INVALID_ARGUMENT for a wrong shape; INTERNAL for a torch error
  // or logits without any finite value.
  absl::StatusOr<SampledToken> Sample(const at::Tensor& logits, absl::Span<const int64_t> history);

  // Sample() on a row already in host memory as float32 (SampleBatch copies the whole batch
  // there at once). INTERNAL if no logit is finite.
  absl::StatusOr<SampledToken> SampleHostRow(absl::Span<const float> row,
                                             absl::Span<const int64_t> history);

  const SamplingParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }
  // Greedy with no processor: the row is only scanned for its maximum.
  bool plain_greedy() const { return params_.greedy() && processors_.empty(); }

 private:
  Sampler(const SamplingParams& params, uint64_t seed);
  // Index drawn from softmax(processed) with one RNG draw; -1 if nothing is finite.
  int64_t Draw(absl::Span<const float> processed);

  SamplingParams params_;
  std::vector<std::unique_ptr<LogitsProcessor>> processors_;
  uint64_t seed_;
  std::mt19937_64 rng_;
};

// One token per row of `logits` [B, V] (any float dtype and device): row b uses samplers[b]
// and histories[b]. The result equals calling samplers[b]->Sample on each row alone (same
// arithmetic, same RNG consumption); the batch crosses to host memory in one copy. Exceptions,
// with the same tokens and log-probabilities that may differ in the last bits: an all-greedy
// batch on an accelerator is reduced there (argmax, logsumexp) and only [B] tokens and
// log-probabilities are copied; one on the CPU is read in place (GreedyRows).
absl::StatusOr<std::vector<SampledToken>> SampleBatch(
    const at::Tensor& logits, absl::Span<Sampler* const> samplers,
    absl::Span<const absl::Span<const int64_t>> histories);

}  // namespace lmeye
