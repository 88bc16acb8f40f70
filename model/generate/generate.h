// Sampled generation for one request at a time: the engine's simple path and the tests'.
// (The scheduler batches decode steps itself with GenerationStream / AdvanceBatch.)
//
// Threading: like LlmModel::Step, the cache belongs to the calling thread for the duration.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/generate/generation_stream.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_model.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

// Called with each piece of text as soon as it is safe to stream (never empty).
using TextCallback = std::function<void(absl::string_view delta)>;

struct GenerateResult {
  std::vector<int64_t> tokens;  // generated ids, the finishing EOS included
  std::vector<float> logprobs;  // the model's raw log-probability of each
  std::string text;             // the streamed text: no EOS, cut before a stop string
  FinishReason finish_reason = FinishReason::kNone;
  int n_prompt_tokens = 0;
  int n_generated_tokens = 0;
};

// Continues the sequence in `slot` of `cache` (it holds the prompt; `logits` [V] are the
// next-token logits after it, e.g. the IPN second pass's row): samples with `stream`, feeds each
// token back with one-token Steps, calls `on_text` (may be null). Stops on EOS, a stop string,
// max_new_tokens, or when the slot is full (kLength). The slot then holds the prompt and every
// generated token but the last; the caller still owns it.
absl::StatusOr<GenerateResult> Generate(const LlmModel& model, KvCache& cache, int slot,
                                        const at::Tensor& logits, GenerationStream& stream,
                                        const TextCallback& on_text = nullptr);

// The whole thing for a token prompt, with a KV cache of its own (prompt + max_new_tokens).
// `tokenizer` may be null (then no text and no stop strings).
absl::StatusOr<GenerateResult> Generate(const LlmModel& model, absl::Span<const int64_t> prompt,
                                        const SamplingParams& params, const Tokenizer* tokenizer,
                                        const TextCallback& on_text = nullptr);

}  // namespace lmeye
