// What a request asks of token generation: sampling (SamplingParams) or beam search
// (BeamSearchParams), and why a sequence ended (FinishReason).
//
// Plain value types: proto fields are converted into these at the edge (server/), validated
// once with Validate(), and then read by the per-request Sampler / GenerationStream and by
// BeamSearch. Semantics follow Hugging Face transformers v4.35 generate() where it has the
// parameter, vLLM's SamplingParams where it does not (stop strings, ignore_eos, seed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// Why a sequence stopped producing tokens.
enum class FinishReason {
  kNone,    // still running
  kStop,    // a stop string was produced (trimmed from the text)
  kEos,     // an EOS id was sampled (not part of the text)
  kLength,  // max_new_tokens reached
};

// "none", "stop", "eos", "length": for logs, metrics labels and the API.
absl::string_view FinishReasonName(FinishReason reason);

struct SamplingParams {
  // Limits that keep one request from making stop matching or the penalty quadratic.
  static constexpr int kMaxStopStrings = 16;
  static constexpr int kMaxStopStringBytes = 256;

  // 0: greedy (argmax of the processed logits; top_k, top_p and seed are then unused).
  // > 0: logits are divided by it before top-k / top-p and sampling.
  double temperature = 0.0;
  // Keep only the k most likely tokens (ties at the k-th value kept, as HF). 0: off.
  int top_k = 0;
  // Nucleus: keep the smallest set of most likely tokens whose probability reaches top_p
  // (HF TopPLogitsWarper, at least one token kept). 1: off. In (0, 1].
  double top_p = 1.0;
  // HF RepetitionPenaltyLogitsProcessor: for every token already in the prompt or the output,
  // a positive logit is divided by it and a negative one multiplied. Applies to greedy too.
  // 1: off. > 0.
  double repetition_penalty = 1.0;
  // Seeds the request's own RNG: the same seed and logits give the same tokens whatever else is
  // in the batch. Unset: seeded from std::random_device.
  std::optional<uint64_t> seed;
  // Generated tokens, EOS included, at most. >= 1.
  int max_new_tokens = 16;
  // Generation stops when the text contains one of these; the text is cut before it. Matched on
  // the decoded text, so a stop string split across tokens is found.
  std::vector<std::string> stop;
  // Tokens that end generation (FinishReason::kEos). Empty: none; the engine fills in the
  // model's EOS ids before the request starts.
  std::vector<int64_t> eos_token_ids;
  // Keep going past EOS (benchmarks); EOS tokens are then ordinary tokens.
  bool ignore_eos = false;

  bool greedy() const { return temperature == 0.0; }

  // INVALID_ARGUMENT naming the field ("temperature must be ...") on the first bad field.
  absl::Status Validate() const;
};

// HF BeamSearchScorer's `early_stopping`.
enum class EarlyStopping {
  kHeuristic,   // false (HF default): stop when the best live beam, scored at the current
                // length, cannot beat the worst kept hypothesis
  kOnFinished,  // true: stop as soon as num_beams hypotheses have finished
  kNever,       // "never": stop only when no better hypothesis is possible
};

struct BeamSearchParams {
  int num_beams = 5;  // >= 1; 1 gives greedy's result
  // HF: a hypothesis scores sum(logprobs) / length^length_penalty, where length counts the
  // prompt too (see prompt_length). > 0 favours longer sequences.
  double length_penalty = 1.0;
  EarlyStopping early_stopping = EarlyStopping::kHeuristic;
  int max_new_tokens = 32;             // >= 1
  std::vector<int64_t> eos_token_ids;  // empty: beams end only at max_new_tokens
  int num_return_sequences = 1;        // in [1, num_beams]
  // The prompt length HF's input_ids would have, used in the length penalty. -1: the prompt's
  // length in the KV cache (HF with input_ids). A prompt given as inputs_embeds has input_ids of
  // length 0 in HF v4.36+ and 1 (a BOS placeholder) in v4.35; pass that to match those.
  int prompt_length = -1;

  absl::Status Validate() const;
};

}  // namespace lmeye
