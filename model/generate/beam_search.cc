#include "model/generate/beam_search.h"

#include <algorithm>
#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/llm_slot_stepper.h"

namespace lmeye {

// HF BeamHypotheses: the n-best list of finished hypotheses.
class BeamSearchRun::Hypotheses {
 public:
  Hypotheses(const BeamSearchParams& params, int max_length)
      : params_(params), max_length_(max_length) {}

  int size() const { return static_cast<int>(beams_.size()); }

  void Add(std::vector<int64_t> tokens, bool eos, double sum_logprobs, int length) {
    const double score =
        sum_logprobs / std::pow(static_cast<double>(length), params_.length_penalty);
    if (size() >= params_.num_beams && score <= worst_) return;
    BeamHypothesis h;
    h.tokens = std::move(tokens);
    h.ended_with_eos = eos;
    h.sum_logprobs = sum_logprobs;
    h.score = score;
    beams_.push_back(std::move(h));
    if (size() > params_.num_beams) {
      // HF sorts (score, index) and drops the first: the lowest score, earliest among ties.
      auto worst = std::min_element(beams_.begin(), beams_.end(), ByScore);
      beams_.erase(worst);
      worst_ = std::min_element(beams_.begin(), beams_.end(), ByScore)->score;
    } else {
      worst_ = std::min(score, worst_);
    }
  }

  bool IsDone(double best_sum_logprobs, int cur_len) const {
    if (size() < params_.num_beams) return false;
    switch (params_.early_stopping) {
      case EarlyStopping::kOnFinished:
        return true;
      case EarlyStopping::kHeuristic:
        return worst_ >= best_sum_logprobs / std::pow(cur_len, params_.length_penalty);
      case EarlyStopping::kNever: {
        const int length = params_.length_penalty > 0.0 ? max_length_ : cur_len;
        return worst_ >= best_sum_logprobs / std::pow(length, params_.length_penalty);
      }
    }
    return false;
  }

  // Best first; among equal scores the later-added first (HF: stable sort, then pop()).
  std::vector<BeamHypothesis> Best(int n) {
    std::stable_sort(beams_.begin(), beams_.end(), ByScore);
    std::vector<BeamHypothesis> out;
    for (int i = 0; i < n && !beams_.empty(); ++i) {
      out.push_back(std::move(beams_.back()));
      beams_.pop_back();
    }
    return out;
  }

 private:
  static bool ByScore(const BeamHypothesis& a, const BeamHypothesis& b) {
    return a.score < b.score;
  }

  const BeamSearchParams& params_;
  int max_length_;
  std::vector<BeamHypothesis> beams_;
  double worst_ = 1e9;
};

absl::StatusOr<std::unique_ptr<BeamSearchRun>> BeamSearchRun::Start(
    const LlmModel& model, KvCache& cache, int prompt_slot, const at::Tensor& logits,
    const BeamSearchParams& params) {
  auto stepper = std::make_unique<LlmSlotStepper>(model, cache);
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<BeamSearchRun> run,
                         Start(*stepper, prompt_slot, logits, params));
  run->owned_stepper_ = std::move(stepper);
  return run;
}

absl::StatusOr<std::unique_ptr<BeamSearchRun>> BeamSearchRun::Start(
    SlotStepper& stepper, int prompt_slot, const at::Tensor& logits,
    const BeamSearchParams& params) {
  LMEYE_RETURN_IF_ERROR(params.Validate());
  LMEYE_RETURN_IF_ERROR(stepper.CheckSlots({prompt_slot}));
  if (!logits.defined() || logits.dim() != 1) {
    return absl::InvalidArgumentError("BeamSearch needs the prompt's next-token logits [V]");
  }
  const int prompt_len = stepper.length(prompt_slot);
  if (prompt_len == 0) return absl::InvalidArgumentError("BeamSearch: the prompt slot is empty");
  if (prompt_len + params.max_new_tokens - 1 > stepper.capacity()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_new_tokens: prompt (", prompt_len, ") + max_new_tokens (", params.max_new_tokens,
        ") - 1 exceeds the KV cache capacity ", stepper.capacity()));
  }
  if (stepper.n_free() < params.num_beams - 1) {
    return absl::ResourceExhaustedError(absl::StrCat("num_beams: beam search needs ",
                                                     params.num_beams - 1, " free KV slots, ",
                                                     stepper.n_free(), " available"));
  }
  std::vector<int> slots = {prompt_slot};
  for (int i = 1; i < params.num_beams; ++i) {
    absl::StatusOr<int> slot = stepper.Allocate();
    if (!slot.ok()) {
      for (size_t j = 1; j < slots.size(); ++j) stepper.Release(slots[j]).IgnoreError();
      return slot.status();
    }
    slots.push_back(*slot);
  }
  return std::unique_ptr<BeamSearchRun>(
      new BeamSearchRun(stepper, std::move(slots), logits, params, prompt_len));
}

BeamSearchRun::BeamSearchRun(SlotStepper& stepper, std::vector<int> slots, const at::Tensor& logits,
                             const BeamSearchParams& params, int prompt_len)
    : stepper_(stepper),
      params_(params),
      prompt_len_(prompt_len),
      slots_(std::move(slots)),
      beam_slot_(slots_) {
  cur_len_ = params_.prompt_length >= 0 ? params_.prompt_length : prompt_len_;
  hyps_ = std::make_unique<Hypotheses>(params_, cur_len_ + params_.max_new_tokens);
  // The prompt is one beam: HF's other initial beams score -1e9 and are never picked.
  step_logits_ = logits.unsqueeze(0);
  beam_scores_ = at::zeros({1}, logits.options().dtype(at::kFloat));
  beams_.resize(1);
}

BeamSearchRun::~BeamSearchRun() {
  // Every beam shares the prompt's positions, so whichever beam ended in the prompt's slot, its
  // first prompt_len positions are the prompt.
  for (size_t j = 1; j < slots_.size(); ++j) stepper_.Release(slots_[j]).IgnoreError();
  stepper_.Truncate(slots_[0], prompt_len_).IgnoreError();
}

absl::StatusOr<bool> BeamSearchRun::Step() {
  LMEYE_ASSIGN_OR_RETURN(bool finished, Advance());
  if (finished) return true;
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(at::Tensor logits,
                         GuardTorch("beam search step", [&]() -> absl::StatusOr<at::Tensor> {
                           return stepper_.Step(step_slots_, step_tokens_);
                         }));
  LMEYE_RETURN_IF_ERROR(SetStepLogits(logits));
  return false;
}

absl::StatusOr<bool> BeamSearchRun::Advance() {
  if (finished_) return true;
  if (awaiting_step_) {
    return absl::FailedPreconditionError("beam search: the previous step has not run");
  }
  torch::NoGradGuard no_grad;
  return GuardTorch("beam search", [&]() -> absl::StatusOr<bool> {
    const int n_beams = params_.num_beams;
    const int64_t vocab = step_logits_.size(1);
    const auto& eos_ids = params_.eos_token_ids;
    auto is_eos = [&](int64_t t) {
      return std::find(eos_ids.begin(), eos_ids.end(), t) != eos_ids.end();
    };
    const int n_candidates = std::max<int>(2, 1 + static_cast<int>(eos_ids.size())) * n_beams;
    // [n_live * V]: every continuation's total log-probability.
    at::Tensor scores =
        (step_logits_.to(at::kFloat).log_softmax(-1) + beam_scores_.unsqueeze(1)).reshape({-1});
    const int64_t k = std::min<int64_t>(n_candidates, scores.size(0));
    auto top = scores.topk(k);
    at::Tensor top_scores = std::get<0>(top).to(at::kCPU).contiguous();
    at::Tensor top_index = std::get<1>(top).to(at::kCPU).contiguous();
    const float* s = top_scores.data_ptr<float>();
    const int64_t* idx = top_index.data_ptr<int64_t>();
    next_.clear();
    for (int64_t rank = 0; rank < k && static_cast<int>(next_.size()) < n_beams; ++rank) {
      const int parent = static_cast<int>(idx[rank] / vocab);
      const int64_t token = idx[rank] % vocab;
      if (is_eos(token)) {
        if (rank >= n_beams) continue;
        hyps_->Add(beams_[parent], /*eos=*/true, s[rank], cur_len_);
      } else {
        next_.push_back({s[rank], token, parent});
      }
    }
    if (static_cast<int>(next_.size()) < n_beams) {
      return absl::InvalidArgumentError(absl::StrCat(
          "num_beams = ", n_beams, " is too large for a vocabulary of ", vocab, " tokens"));
    }
    const bool done = hyps_->IsDone(s[0], cur_len_);
    ++cur_len_;
    ++steps_;
    std::vector<std::vector<int64_t>> grown(n_beams);
    for (int j = 0; j < n_beams; ++j) {
      grown[j] = beams_[next_[j].parent];
      grown[j].push_back(next_[j].token);
    }
    beams_ = std::move(grown);
    if (done || steps_ == params_.max_new_tokens) {
      if (!done) {
        for (int j = 0; j < n_beams; ++j) {
          hyps_->Add(beams_[j], /*eos=*/false, next_[j].score, cur_len_);
        }
      }
      finished_ = true;
      return true;
    }
    LMEYE_RETURN_IF_ERROR(PrepareStep());
    return false;
  });
}

absl::Status BeamSearchRun::PrepareStep() {
  const int n_beams = params_.num_beams;
  // Reorder the slots: first child keeps its parent's slot; other children get copies in the
  // slots of childless parents (never a slot still to be read).
  std::vector<bool> claimed(n_beams, false);
  std::vector<int> new_slot(n_beams, -1);
  for (int j = 0; j < n_beams; ++j) {
    if (!claimed[next_[j].parent]) {
      claimed[next_[j].parent] = true;
      new_slot[j] = beam_slot_[next_[j].parent];
    }
  }
  std::vector<int> spare;
  for (int i = 0; i < n_beams; ++i) {
    if (!claimed[i]) spare.push_back(beam_slot_[i]);
  }
  for (int j = 0; j < n_beams; ++j) {
    if (new_slot[j] >= 0) continue;
    new_slot[j] = spare.back();
    spare.pop_back();
    LMEYE_RETURN_IF_ERROR(stepper_.CopySlot(beam_slot_[next_[j].parent], new_slot[j]));
  }
  beam_slot_ = std::move(new_slot);

  // A step reads the cache without a gather when its slots are an ascending range, which the
  // beams' slots usually are as a set: the rows go in slot order, and come back in beam order.
  std::vector<int64_t> order(n_beams);  // row r of the step is beam order[r]
  for (int j = 0; j < n_beams; ++j) order[j] = j;
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return beam_slot_[a] < beam_slot_[b]; });
  row_of_beam_.assign(n_beams, 0);
  step_tokens_.assign(n_beams, 0);
  step_slots_.assign(n_beams, 0);
  step_totals_.assign(n_beams, 0.0f);
  for (int r = 0; r < n_beams; ++r) {
    row_of_beam_[order[r]] = r;
    step_tokens_[r] = next_[order[r]].token;
    step_slots_[r] = beam_slot_[order[r]];
  }
  for (int j = 0; j < n_beams; ++j) step_totals_[j] = next_[j].score;
  awaiting_step_ = true;
  return absl::OkStatus();
}

absl::Status BeamSearchRun::SetStepLogits(const at::Tensor& logits) {
  if (!awaiting_step_) return absl::FailedPreconditionError("beam search: no step is awaited");
  const int64_t n_beams = static_cast<int64_t>(step_slots_.size());
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != n_beams) {
    return absl::InvalidArgumentError(
        absl::StrCat("beam search: the step's logits must be [", n_beams, ", V]"));
  }
  torch::NoGradGuard no_grad;
  LMEYE_RETURN_IF_ERROR(GuardTorch("beam search", [&]() -> absl::Status {
    step_logits_ = logits.index_select(
        0, at::tensor(row_of_beam_, at::kLong).to(logits.device()));  // [nb, V], beam order
    beam_scores_ = at::tensor(step_totals_, at::kFloat).to(step_logits_.device());  // [nb]
    return absl::OkStatus();
  }));
  awaiting_step_ = false;
  return absl::OkStatus();
}

BeamSearchResult BeamSearchRun::Result() {
  BeamSearchResult result;
  result.n_steps = steps_;
  result.hypotheses = hyps_->Best(params_.num_return_sequences);
  return result;
}

absl::StatusOr<BeamSearchResult> BeamSearch(const LlmModel& model, KvCache& cache, int prompt_slot,
                                            const at::Tensor& logits,
                                            const BeamSearchParams& params) {
  LlmSlotStepper stepper(model, cache);
  return BeamSearch(stepper, prompt_slot, logits, params);
}

absl::StatusOr<BeamSearchResult> BeamSearch(SlotStepper& stepper, int prompt_slot,
                                            const at::Tensor& logits,
                                            const BeamSearchParams& params) {
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<BeamSearchRun> run,
                         BeamSearchRun::Start(stepper, prompt_slot, logits, params));
  for (;;) {
    LMEYE_ASSIGN_OR_RETURN(bool finished, run->Step());
    if (finished) return run->Result();
  }
}

absl::StatusOr<BeamSearchResult> BeamSearch(const LlmModel& model, const LlmInput& prompt,
                                            const BeamSearchParams& params) {
  LMEYE_RETURN_IF_ERROR(params.Validate());
  const at::Tensor& any = prompt.input_ids.defined() ? prompt.input_ids : prompt.inputs_embeds;
  if (!any.defined() || any.dim() < 2 || any.size(0) != 1) {
    return absl::InvalidArgumentError("BeamSearch needs a prompt of one row [1, T]");
  }
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<KvCache> cache,
      model.NewCache(params.num_beams, static_cast<int>(any.size(1)) + params.max_new_tokens));
  LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Step(prompt, *cache, {slot}, last_only));
  return BeamSearch(model, *cache, slot, out.logits[0], params);
}

}  // namespace lmeye
