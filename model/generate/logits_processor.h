// Logits processors: the transformations between the model's next-token logits and the
// distribution a token is drawn from, with Hugging Face transformers v4.35 semantics and order:
// repetition penalty (also for greedy), then, when sampling, temperature, top-k, top-p.
//
// Each works on ONE request's row of logits, float32 in host memory, so that per-request
// parameters never interact and no device kernel launch is paid per request and per
// processor; the batched path (sampler.h) copies the batch to the host once and hands each row
// to its request's processors. Top-k and top-p cost O(V) plus a partial sort of the kept set,
// not a full sort of the vocabulary.
//
// Threading: processors are immutable after construction; Process may run on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "model/generate/sampling_params.h"

namespace lmeye {

class LogitsProcessor {
 public:
  virtual ~LogitsProcessor() = default;
  // logits: [V], modified in place; -inf marks a removed token. history: the request's prompt
  // and generated token ids so far (ids outside [0, V) are ignored).
  virtual void Process(absl::Span<const int64_t> history, absl::Span<float> logits) const = 0;
};

// HF RepetitionPenaltyLogitsProcessor: each distinct token of `history` has its logit divided
// by `penalty` when positive, multiplied when negative.
class RepetitionPenaltyProcessor : public LogitsProcessor {
 public:
  explicit RepetitionPenaltyProcessor(double penalty) : penalty_(penalty) {}
  void Process(absl::Span<const int64_t> history, absl::Span<float> logits) const override;

 private:
  double penalty_;
};

// HF TemperatureLogitsWarper: logits / temperature (temperature > 0).
class TemperatureProcessor : public LogitsProcessor {
 public:
  explicit TemperatureProcessor(double temperature) : temperature_(temperature) {}
  void Process(absl::Span<const int64_t> history, absl::Span<float> logits) const override;

 private:
  double temperature_;
};

// HF TopKLogitsWarper: every logit below the k-th largest becomes -inf (ties with it stay).
class TopKProcessor : public LogitsProcessor {
 public:
  explicit TopKProcessor(int k) : k_(k) {}
  void Process(absl::Span<const int64_t> history, absl::Span<float> logits) const override;

 private:
  int k_;
};

// HF TopPLogitsWarper: sorted ascending, tokens whose cumulative probability is <= 1 - top_p
// become -inf; the most likely token always stays. Computed from the top (in float64): a token
// stays when the probability of the tokens ranked above it is < top_p.
class TopPProcessor : public LogitsProcessor {
 public:
  explicit TopPProcessor(double top_p) : top_p_(top_p) {}
  void Process(absl::Span<const int64_t> history, absl::Span<float> logits) const override;

 private:
  double top_p_;
};

// The processors `params` (valid) asks for, in HF's order; empty for plain greedy.
std::vector<std::unique_ptr<LogitsProcessor>> MakeLogitsProcessors(const SamplingParams& params);

}  // namespace lmeye
