// Minimal greedy decoding with Hugging Face generate() semantics (transformers v4.35
// greedy_search): the batch keeps stepping after a row emits EOS, that row is filled with the
// pad id from then on, and generation stops when every row has finished or after
// max_new_tokens. Sampling, beam search and stop strings belong to model/generate/.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/llm/llm_model.h"

namespace lmeye {

struct GreedyOptions {
  int max_new_tokens = 16;
  std::vector<int64_t> eos_token_ids;  // empty: run max_new_tokens steps
  // Fills rows that have finished. -1: the first EOS id (what HF does without a pad id).
  int64_t pad_token_id = -1;
  bool keep_step_logits = false;  // fill GreedyResult::step_logits
};

struct GreedyResult {
  at::Tensor tokens;  // [B, n_steps] int64 on the CPU: the new tokens (pad after a row's EOS)
  // [n_steps, B, V] float32 on the CPU: the next-token logits of each step (step 0 = the
  // prompt pass), when keep_step_logits.
  at::Tensor step_logits;
};

// Generates from `prompt` (ids or embeddings, any padding), with a KV cache of its own: one
// Step over the prompt, then one-token Steps. Runs under NoGradGuard; thread-safe like
// LlmModel::Step.
absl::StatusOr<GreedyResult> GreedyGenerate(const LlmModel& model, const LlmInput& prompt,
                                            const GreedyOptions& options);

}  // namespace lmeye
