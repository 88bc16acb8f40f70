#include "model/generate/choice_scorer.h"

#include <algorithm>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

// Scores choices[begin, end) in slots (copies of the prompt), one batched Step.
absl::Status ScoreChunk(const LlmModel& model, KvCache& cache, int prompt_slot,
                        const at::Tensor& first_logprobs, const std::vector<int>& slots,
                        const std::vector<std::vector<int64_t>>& choices, size_t begin,
                        std::vector<ChoiceScore>* out) {
  const int n = static_cast<int>(slots.size());
  size_t longest = 0;
  for (int i = 0; i < n; ++i) longest = std::max(longest, choices[begin + i].size());
  // Row i feeds all of choice i (right-padded): the output at position t predicts token t + 1;
  // token 0 comes from the prompt's logits. The last token's output is unused, but feeding it
  // keeps every row non-empty.
  const int64_t width = static_cast<int64_t>(longest);
  std::vector<int64_t> ids(n * width, 0), mask(n * width, 0);
  // target[i][t]: the token position t's output should predict (choice token t + 1; 0 where
  // there is none, ignored).
  std::vector<int64_t> target(n * width, 0);
  for (int i = 0; i < n; ++i) {
    LMEYE_RETURN_IF_ERROR(cache.CopySlot(prompt_slot, slots[i]));
    const auto& c = choices[begin + i];
    for (size_t t = 0; t < c.size(); ++t) {
      ids[i * width + t] = c[t];
      mask[i * width + t] = 1;
      if (t + 1 < c.size()) target[i * width + t] = c[t + 1];
    }
  }
  const at::TensorOptions on_device = at::TensorOptions().dtype(at::kLong).device(model.device());
  LlmInput in;
  in.input_ids = at::tensor(ids, at::kLong).view({n, width}).to(on_device);
  in.attention_mask = at::tensor(mask, at::kLong).view({n, width}).to(on_device);
  LlmOutputOptions all;
  all.logits = LogitsAt::kAll;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput step, model.Step(in, cache, slots, all));
  // Gather on the device: only [n, L] values cross to the host, not [n, L, V].
  at::Tensor index = at::tensor(target, at::kLong).view({n, width, 1}).to(on_device);
  at::Tensor picked = step.logits.to(at::kFloat)
                          .log_softmax(-1)
                          .gather(2, index)
                          .squeeze(2)
                          .to(at::kCPU)
                          .contiguous();  // [n, L]
  const float* lp = picked.data_ptr<float>();
  for (int i = 0; i < n; ++i) {
    const auto& c = choices[begin + i];
    ChoiceScore& score = (*out)[begin + i];
    score.token_logprobs.resize(c.size());
    score.token_logprobs[0] = first_logprobs[c[0]].item<float>();
    for (size_t t = 1; t < c.size(); ++t) score.token_logprobs[t] = lp[i * width + t - 1];
    double total = 0.0;
    for (float v : score.token_logprobs) total += v;
    score.total_logprob = total;
    score.mean_logprob = total / static_cast<double>(c.size());
  }
  return absl::OkStatus();
}

// INVALID_ARGUMENT unless `logits` is [V] and every choice is non-empty with ids in [0, V) and
// fits after a prompt of `prompt_len` positions in slots of `capacity`.
absl::Status CheckChoices(const at::Tensor& logits,
                          const std::vector<std::vector<int64_t>>& choices, int prompt_len,
                          int capacity) {
  if (!logits.defined() || logits.dim() != 1) {
    return absl::InvalidArgumentError("ScoreChoices needs the prompt's next-token logits [V]");
  }
  if (choices.empty()) return absl::InvalidArgumentError("choices: none given");
  const int64_t vocab = logits.size(0);
  size_t longest = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("choices[", i, "] has no tokens"));
    }
    for (int64_t id : choices[i]) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("choices[", i, "]: token id ", id, " outside [0, ", vocab, ")"));
      }
    }
    longest = std::max(longest, choices[i].size());
  }
  if (prompt_len + static_cast<int64_t>(longest) > capacity) {
    return absl::InvalidArgumentError(absl::StrCat("choices: prompt (", prompt_len,
                                                   ") + longest choice (", longest,
                                                   ") exceeds the KV cache capacity ", capacity));
  }
  return absl::OkStatus();
}

// Totals, means and the two argmaxes from the per-token log-probabilities.
void Summarize(const std::vector<std::vector<int64_t>>& choices, ChoiceScores* result) {
  for (size_t i = 0; i < result->choices.size(); ++i) {
    ChoiceScore& c = result->choices[i];
    double total = 0.0;
    for (float v : c.token_logprobs) total += v;
    c.total_logprob = total;
    c.mean_logprob = total / static_cast<double>(choices[i].size());
    if (result->best < 0 || c.total_logprob > result->choices[result->best].total_logprob) {
      result->best = static_cast<int>(i);
    }
    if (result->best_by_mean < 0 ||
        c.mean_logprob > result->choices[result->best_by_mean].mean_logprob) {
      result->best_by_mean = static_cast<int>(i);
    }
  }
}

}  // namespace

absl::StatusOr<ChoiceScores> ScoreChoices(const LlmModel& model, KvCache& cache, int prompt_slot,
                                          const at::Tensor& logits,
                                          const std::vector<std::vector<int64_t>>& choices) {
  LMEYE_RETURN_IF_ERROR(cache.CheckSlots({prompt_slot}));
  LMEYE_RETURN_IF_ERROR(CheckChoices(logits, choices, cache.length(prompt_slot), cache.capacity()));
  const int chunk = std::min<int>(cache.n_free(), static_cast<int>(choices.size()));
  if (chunk == 0) return absl::ResourceExhaustedError("choices: no free KV cache slot");
  torch::NoGradGuard no_grad;
  ChoiceScores result;
  result.choices.resize(choices.size());
  std::vector<int> slots;
  absl::Status status = GuardTorch("choice scoring", [&]() -> absl::Status {
    for (int i = 0; i < chunk; ++i) {
      LMEYE_ASSIGN_OR_RETURN(int slot, cache.Allocate());
      slots.push_back(slot);
    }
    at::Tensor first = logits.to(at::kFloat).log_softmax(0).to(at::kCPU);
    for (size_t begin = 0; begin < choices.size(); begin += chunk) {
      const size_t n = std::min<size_t>(chunk, choices.size() - begin);
      std::vector<int> used(slots.begin(), slots.begin() + n);
      LMEYE_RETURN_IF_ERROR(
          ScoreChunk(model, cache, prompt_slot, first, used, choices, begin, &result.choices));
    }
    return absl::OkStatus();
  });
  for (int slot : slots) cache.Release(slot).IgnoreError();
  LMEYE_RETURN_IF_ERROR(status);
  Summarize(choices, &result);
  return result;
}

absl::StatusOr<ChoiceScores> ScoreChoices(SlotStepper& stepper, int prompt_slot,
                                          const at::Tensor& logits,
                                          const std::vector<std::vector<int64_t>>& choices) {
  LMEYE_RETURN_IF_ERROR(stepper.CheckSlots({prompt_slot}));
  LMEYE_RETURN_IF_ERROR(
      CheckChoices(logits, choices, stepper.length(prompt_slot), stepper.capacity()));
  const int chunk = std::min<int>(stepper.n_free(), static_cast<int>(choices.size()));
  if (chunk == 0) return absl::ResourceExhaustedError("choices: no free cache slot");
  torch::NoGradGuard no_grad;
  ChoiceScores result;
  result.choices.resize(choices.size());
  std::vector<int> slots;
  absl::Status status = GuardTorch("choice scoring", [&]() -> absl::Status {
    for (int i = 0; i < chunk; ++i) {
      LMEYE_ASSIGN_OR_RETURN(int slot, stepper.Allocate());
      slots.push_back(slot);
    }
    const at::Tensor first = logits.to(at::kFloat).log_softmax(0).to(at::kCPU);
    for (size_t begin = 0; begin < choices.size(); begin += chunk) {
      const size_t n = std::min<size_t>(chunk, choices.size() - begin);
      for (size_t i = 0; i < n; ++i) {
        const auto& c = choices[begin + i];
        LMEYE_RETURN_IF_ERROR(stepper.CopySlot(prompt_slot, slots[i]));
        result.choices[begin + i].token_logprobs = {first[c[0]].item<float>()};
      }
      // Step t feeds token t - 1 of every choice longer than t and scores its token t.
      for (size_t t = 1;; ++t) {
        std::vector<int> running;
        std::vector<int64_t> fed;
        std::vector<size_t> which;
        for (size_t i = 0; i < n; ++i) {
          const auto& c = choices[begin + i];
          if (c.size() <= t) continue;
          running.push_back(slots[i]);
          fed.push_back(c[t - 1]);
          which.push_back(begin + i);
        }
        if (running.empty()) break;
        LMEYE_ASSIGN_OR_RETURN(at::Tensor step, stepper.Step(running, fed));
        at::Tensor lp = step.to(at::kFloat).log_softmax(-1).to(at::kCPU);  // [running, V]
        for (size_t r = 0; r < which.size(); ++r) {
          result.choices[which[r]].token_logprobs.push_back(
              lp[static_cast<int64_t>(r)][choices[which[r]][t]].item<float>());
        }
      }
    }
    return absl::OkStatus();
  });
  for (int slot : slots) stepper.Release(slot).IgnoreError();
  LMEYE_RETURN_IF_ERROR(status);
  Summarize(choices, &result);
  return result;
}

absl::StatusOr<ChoiceScores> ScoreChoices(const LlmModel& model, const LlmInput& prompt,
                                          const std::vector<std::vector<int64_t>>& choices) {
  const at::Tensor& any = prompt.input_ids.defined() ? prompt.input_ids : prompt.inputs_embeds;
  if (!any.defined() || any.dim() < 2 || any.size(0) != 1) {
    return absl::InvalidArgumentError("ScoreChoices needs a prompt of one row [1, T]");
  }
  size_t longest = 1;
  for (const auto& c : choices) longest = std::max(longest, c.size());
  torch::NoGradGuard no_grad;
  const int n_slots = 1 + static_cast<int>(std::min<size_t>(choices.size(), 16));
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<KvCache> cache,
      model.NewCache(n_slots, static_cast<int>(any.size(1) + static_cast<int64_t>(longest))));
  LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Step(prompt, *cache, {slot}, last_only));
  return ScoreChoices(model, *cache, slot, out.logits[0], choices);
}

}  // namespace lmeye
