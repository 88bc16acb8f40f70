// Beam search with Hugging Face transformers v4.35 semantics (BeamSearchScorer, batch of one):
// - each step scores every beam's continuations, sum of log-softmax so far + this token's;
//   the top max(2, 1 + n_eos) * num_beams candidates are taken over all beams;
// - a candidate ending in EOS, ranked within the first num_beams, becomes a finished
//   hypothesis scored sum_logprobs / length^length_penalty, where length is the prompt length
//   plus the generated tokens before the EOS (HF counts input_ids; see
//   BeamSearchParams::prompt_length); the other candidates fill the num_beams live beams;
// - the n-best list keeps num_beams hypotheses; done per early_stopping (HF's is_done, with
//   the best candidate score of the step and the length before it);
// - after max_new_tokens steps the live beams join the list, and the best come out.
// num_beams = 1 gives greedy's tokens.
//
// Cache: each live beam owns a slot of the model's cache, reached through a SlotStepper
// (slot_stepper.h), so the same search runs a decoder-only LLM or T5's decoder. The prompt's slot
// is beam 0's; num_beams - 1 more are allocated from the same cache. Reordering after a step
// copies a slot only where a parent has several children: a beam continuing its parent keeps the
// parent's slot in place, and the slots of parents without children are overwritten with copies
// (SlotStepper::CopySlot).
//
// Threading: the cache belongs to the calling thread for the duration.
//
// BeamSearchRun is the same search one model step at a time, for a server that interleaves it
// with other requests' work and stops it between steps (cancel, deadline); BeamSearch runs it to
// the end. The run can leave its model step to the caller (Advance, then SetStepLogits), so that
// a server runs the beams as rows of the decode step it runs for everything else: the logits of a
// row do not depend on the other rows of the step, so the tokens are those of Step().
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/generate/sampling_params.h"
#include "model/generate/slot_stepper.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_model.h"

namespace lmeye {

struct BeamHypothesis {
  std::vector<int64_t> tokens;  // generated ids, without the final EOS
  bool ended_with_eos = false;  // HF appends eos_token_ids[0] to such a sequence
  double sum_logprobs = 0.0;    // EOS included when ended_with_eos
  double score = 0.0;           // sum_logprobs / length^length_penalty
};

struct BeamSearchResult {
  std::vector<BeamHypothesis> hypotheses;  // best first, num_return_sequences of them
  int n_steps = 0;                         // model steps taken (the prompt's included)
};

class BeamSearchRun {
 public:
  // `prompt_slot` of `cache` holds the prompt (its last position included); `logits` [V] are
  // the next-token logits after it. Allocates num_beams - 1 more slots of `cache`
  // (RESOURCE_EXHAUSTED when they are not free); the prompt must leave room for max_new_tokens - 1
  // positions (INVALID_ARGUMENT). `stepper` must outlive the run.
  static absl::StatusOr<std::unique_ptr<BeamSearchRun>> Start(SlotStepper& stepper, int prompt_slot,
                                                              const at::Tensor& logits,
                                                              const BeamSearchParams& params);
  // The same over a decoder-only LLM's KV cache; `model` and `cache` must outlive the run.
  static absl::StatusOr<std::unique_ptr<BeamSearchRun>> Start(const LlmModel& model, KvCache& cache,
                                                              int prompt_slot,
                                                              const at::Tensor& logits,
                                                              const BeamSearchParams& params);
  // Releases the extra slots and truncates `prompt_slot` back to the prompt, finished or not.
  ~BeamSearchRun();
  BeamSearchRun(const BeamSearchRun&) = delete;
  BeamSearchRun& operator=(const BeamSearchRun&) = delete;

  // Chooses the next token of every beam from the last logits and, unless that ends the search,
  // runs one model step over the live beams. True once the search has ended (Result()). An error
  // ends the run: the caller drops it. Step() is Advance(), the step, SetStepLogits().
  absl::StatusOr<bool> Step();

  // The first half of Step(): chooses the next token of every beam from the last logits. True
  // once the search has ended. Otherwise the beams' slots are reordered for the next step
  // (slots are copied where a beam forks) and the run waits for that step, whoever runs it:
  // appending step_tokens()[r] to step_slots()[r] (ascending slots, one row per live beam).
  // FAILED_PRECONDITION while a step is awaited. An error ends the run.
  absl::StatusOr<bool> Advance();
  // True between an Advance() that did not end the search and SetStepLogits().
  bool awaiting_step() const { return awaiting_step_; }
  const std::vector<int>& step_slots() const { return step_slots_; }
  const std::vector<int64_t>& step_tokens() const { return step_tokens_; }
  // The second half: the awaited step's next-token logits [num_beams, V], row r for
  // step_slots()[r] (any float dtype). An error ends the run.
  absl::Status SetStepLogits(const at::Tensor& logits);
  bool finished() const { return finished_; }
  // The n-best list, best first; once finished.
  BeamSearchResult Result();
  // KV slots the run holds besides the prompt's.
  int n_extra_slots() const { return static_cast<int>(slots_.size()) - 1; }

 private:
  class Hypotheses;
  struct Candidate {
    float score;  // sum of logprobs, this token's included
    int64_t token;
    int parent;  // index of the live beam it extends
  };

  BeamSearchRun(SlotStepper& stepper, std::vector<int> slots, const at::Tensor& logits,
                const BeamSearchParams& params, int prompt_len);
  // Reorders the beams' slots for the step and fills step_slots_ / step_tokens_.
  absl::Status PrepareStep();

  std::unique_ptr<SlotStepper> owned_stepper_;  // Start(model, cache): the stepper made for it
  SlotStepper& stepper_;
  const BeamSearchParams params_;
  const int prompt_len_;
  std::vector<int> slots_;      // as allocated: [0] is the prompt's; released at the end
  std::vector<int> beam_slot_;  // live beam j's slot
  std::unique_ptr<Hypotheses> hyps_;
  at::Tensor step_logits_;  // [n_live, V]
  at::Tensor beam_scores_;  // [n_live]
  std::vector<std::vector<int64_t>> beams_;
  std::vector<Candidate> next_;
  // The awaited step: its rows in slot order, row_of_beam_[j] the row of live beam j, and the
  // live beams' scores once it has run.
  std::vector<int> step_slots_;
  std::vector<int64_t> step_tokens_;
  std::vector<int64_t> row_of_beam_;
  std::vector<float> step_totals_;
  bool awaiting_step_ = false;
  int cur_len_ = 0;
  int steps_ = 0;
  bool finished_ = false;
};

// `prompt_slot` of `cache` holds the prompt (its last position included); `logits` [V] are
// the next-token logits after it. Needs num_beams - 1 free slots (RESOURCE_EXHAUSTED
// otherwise) and capacity for the prompt + max_new_tokens - 1 positions (INVALID_ARGUMENT).
// On return, success or not, the extra slots are released and `prompt_slot` holds the
// prompt again (truncated back to its length).
absl::StatusOr<BeamSearchResult> BeamSearch(const LlmModel& model, KvCache& cache, int prompt_slot,
                                            const at::Tensor& logits,
                                            const BeamSearchParams& params);
absl::StatusOr<BeamSearchResult> BeamSearch(SlotStepper& stepper, int prompt_slot,
                                            const at::Tensor& logits,
                                            const BeamSearchParams& params);

// The same from a prompt of one row (ids or embeddings, [1, T]), with a KV cache of its own.
absl::StatusOr<BeamSearchResult> BeamSearch(const LlmModel& model, const LlmInput& prompt,
                                            const BeamSearchParams& params);

}  // namespace lmeye
