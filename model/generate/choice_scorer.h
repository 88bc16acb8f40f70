// Multiple-choice scoring (VCR-style): how likely the model finds each candidate answer after
// the prompt. For choice c = (c_0 .. c_{L-1}):
//   log p(c | prompt) = log p(c_0 | prompt) + sum_t log p(c_t | prompt, c_<t)
// total and per-token mean are returned; the best choice is the argmax of the total (and,
// separately, of the mean, which does not favour short answers).
//
// The prompt is computed once: its slot is copied per choice (KvCache::CopySlot) and all
// choices run as one right-padded batched Step (chunked by the free slots available).
//
// Threading: the cache belongs to the calling thread for the duration.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/generate/choice_scores.h"
#include "model/generate/slot_stepper.h"
#include "model/llm/kv_cache.h"
#include "model/llm/llm_model.h"

namespace lmeye {


// `prompt_slot` holds the prompt; `logits` [V] are its next-token logits. `choices`: at least
// one, each non-empty, ids in [0, V). Needs at least one free slot (RESOURCE_EXHAUSTED) and
// capacity for prompt + the longest choice (INVALID_ARGUMENT). The prompt slot is unchanged;
// the slots used are released before returning.
absl::StatusOr<ChoiceScores> ScoreChoices(const LlmModel& model, KvCache& cache, int prompt_slot,
                                          const at::Tensor& logits,
                                          const std::vector<std::vector<int64_t>>& choices);

// The same over any model's slots (slot_stepper.h), one token per step: each choice runs in a copy
// of the prompt's slot and the choices still running advance in one batched Step (chunked by the
// free slots). For caches the batched Step above cannot feed (T5's decoder).
absl::StatusOr<ChoiceScores> ScoreChoices(SlotStepper& stepper, int prompt_slot,
                                          const at::Tensor& logits,
                                          const std::vector<std::vector<int64_t>>& choices);

// The same from a prompt of one row (ids or embeddings, [1, T]), with a KV cache of its own.
absl::StatusOr<ChoiceScores> ScoreChoices(const LlmModel& model, const LlmInput& prompt,
                                          const std::vector<std::vector<int64_t>>& choices);

}  // namespace lmeye
