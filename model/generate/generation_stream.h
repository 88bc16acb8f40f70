// One sampled request's generation state, model-free: Sampler (per-request RNG), token
// history, streaming detokenizer and StopMatcher. The scheduler keeps one per running request
// and, after each batched decode step, hands it that request's logits row (or uses
// AdvanceBatch for all rows at once); it says which token to feed next, what text to stream
// and when and why the request finished.
//
// Per token: sample (Sampler) -> EOS? -> detokenize (IncrementalDecoder: complete UTF-8 only)
// -> StopMatcher (hold back possible stop-string starts) -> text to stream. At the end the
// decoder's and the matcher's held-back bytes are released (unless a stop string ended it).
// The token counts include the token that finished the request (EOS or the one completing a
// stop string), as in HF and vLLM.
//
// Threading: one thread at a time (the scheduler's). The tokenizer must outlive the stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/generate/sampler.h"
#include "model/generate/sampling_params.h"
#include "model/generate/stop_matcher.h"
#include "model/tokenizer/incremental_decoder.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

struct StreamStep {
  int64_t token = -1;
  float logprob = 0.0f;  // the model's raw log-probability of `token` (see SampledToken)
  std::string text;      // text released by this token; often "", sometimes several tokens' worth
  bool finished = false;
  FinishReason reason = FinishReason::kNone;
};

class GenerationStream {
 public:
  // `params` are validated here. `tokenizer` may be null (ids only): then `params.stop` must be
  // empty. `prompt_ids`: the prompt's text tokens, for the repetition penalty (image and slot
  // positions have no id and are left out). `at_text_start`: the output begins a text (see
  // IncrementalDecoder); false for a continuation of a prompt, the usual case.
  static absl::StatusOr<std::unique_ptr<GenerationStream>> Create(const SamplingParams& params,
                                                                  const Tokenizer* tokenizer,
                                                                  std::vector<int64_t> prompt_ids,
                                                                  bool at_text_start = false);

  // Samples the next token from `logits` ([V], any float dtype/device) and Accept()s it.
  absl::StatusOr<StreamStep> Advance(const at::Tensor& logits);
  // Takes a token chosen elsewhere (SampleBatch). FAILED_PRECONDITION once finished.
  absl::StatusOr<StreamStep> Accept(const SampledToken& sampled);
  // Ends the stream early (the KV slot is full, the client cancelled, the deadline passed):
  // returns the held-back text, which the caller may stream or drop. No-op once finished.
  std::string Finish(FinishReason reason);

  Sampler& sampler() { return *sampler_; }
  const SamplingParams& params() const { return sampler_->params(); }
  // Prompt ids then generated ids: the repetition penalty's context.
  absl::Span<const int64_t> history() const { return history_; }
  absl::Span<const int64_t> generated() const {
    return absl::Span<const int64_t>(history_).subspan(n_prompt_);
  }
  const std::vector<float>& logprobs() const { return logprobs_; }
  // Everything released so far (the concatenation of the StreamStep texts).
  const std::string& text() const { return text_; }
  bool finished() const { return reason_ != FinishReason::kNone; }
  FinishReason finish_reason() const { return reason_; }
  int n_prompt_tokens() const { return static_cast<int>(n_prompt_); }
  int n_generated_tokens() const { return static_cast<int>(history_.size() - n_prompt_); }

 private:
  GenerationStream(std::unique_ptr<Sampler> sampler, const Tokenizer* tokenizer,
                   std::vector<int64_t> prompt_ids, bool at_text_start);
  bool IsEos(int64_t token) const;
  // Releases the decoder's and the matcher's held-back text into `out` (may find a stop).
  void Drain(std::string* out);

  std::unique_ptr<Sampler> sampler_;
  const Tokenizer* tokenizer_;
  std::optional<IncrementalDecoder> decoder_;
  StopMatcher stop_;
  std::vector<int64_t> history_;
  size_t n_prompt_;
  std::vector<float> logprobs_;
  std::string text_;
  FinishReason reason_ = FinishReason::kNone;
};

// One decode step's sampling for many requests: row b of `logits` [B, V] advances streams[b]
// (none finished). Same result as streams[b]->Advance(row b) for each b (see SampleBatch).
absl::StatusOr<std::vector<StreamStep>> AdvanceBatch(const at::Tensor& logits,
                                                     absl::Span<GenerationStream* const> streams);

}  // namespace lmeye
