// The batched work of one scheduler iteration (see scheduler.h, steps 4 to 6).
#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "server/runtime/scheduler.h"
#include "server/runtime/scheduler_request.h"

namespace lmeye {
namespace {

class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

double SecondsSince(absl::Time t) { return absl::ToDoubleSeconds(absl::Now() - t); }

}  // namespace

void Scheduler::FailBatch(const std::vector<ScheduledRequest*>& batch, const absl::Status& status) {
  for (ScheduledRequest* r : batch) Complete(*r, status);
}

std::vector<ScheduledRequest*> Scheduler::RetryAlone(
    const std::vector<ScheduledRequest*>& batch, const absl::Status& status,
    const std::function<absl::Status(ScheduledRequest&)>& run_one) {
  if (batch.size() == 1) {
    FailBatch(batch, status);
    return {};
  }
  std::vector<ScheduledRequest*> ran;
  for (ScheduledRequest* r : batch) {
    absl::Status alone = run_one(*r);
    if (alone.ok()) {
      ran.push_back(r);
    } else {
      Complete(*r, alone);
    }
  }
  return ran;
}

void Scheduler::RunVision() {
  std::vector<ScheduledRequest*> batch;
  for (auto& r : running_) {
    if (!r->done && r->pixels.defined()) batch.push_back(r.get());
  }
  if (batch.empty()) return;
  // Requests that arrived together with the same image (they all missed the image cache)
  // share one encode: row_of[b] is request b's row among the distinct images.
  std::vector<int64_t> row_of;
  std::vector<const ScheduledRequest*> distinct;
  for (const ScheduledRequest* r : batch) {
    int64_t row = -1;
    for (size_t d = 0; d < distinct.size() && row < 0; ++d) {
      if (distinct[d]->digest == r->digest) row = static_cast<int64_t>(d);
    }
    if (row < 0) {
      row = static_cast<int64_t>(distinct.size());
      distinct.push_back(r);
    }
    row_of.push_back(row);
  }
  Stopwatch watch;
  torch::NoGradGuard no_grad;
  absl::Status status = GuardTorch("vision batch", [&]() -> absl::Status {
    std::vector<at::Tensor> pixels;
    for (const ScheduledRequest* r : distinct) pixels.push_back(r->pixels);
    LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine_->EncodeImages(at::stack(pixels)));  // [N, d_v]
    std::vector<at::Tensor> rows;
    for (size_t d = 0; d < distinct.size(); ++d) {
      rows.push_back(h_i[d].clone());  // own storage: the cache charges a view its whole base
      if (deps_.image_cache != nullptr) {
        ImageFeatures features;
        features.h_I = rows.back();
        deps_.image_cache->Insert(distinct[d]->digest, std::move(features));
      }
    }
    for (size_t b = 0; b < batch.size(); ++b) {
      batch[b]->seq.h_i = rows[row_of[b]];
      batch[b]->pixels = at::Tensor();
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return FailBatch(batch, status);
  if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kVision, static_cast<int>(distinct.size()), 0,
                            watch.Seconds());
  }
}

void Scheduler::RunFirstPass() {
  std::vector<ScheduledRequest*> batch;
  std::vector<IpnSequence*> seqs;
  int n_tokens = 0;
  for (auto& r : running_) {
    if (r->done || r->seq.phase != IpnPhase::kNew) continue;
    if (r->seq.has_image && !r->seq.h_i.defined()) continue;  // still in the vision phase
    if (!r->prefix_looked_up) ReusePrefix(*r);
    const int positions = r->seq.prompt_positions() - r->seq.cached_positions;
    // The first request always goes, so that a prompt over the budget runs alone.
    if (!batch.empty() && n_tokens + positions > options_.max_batched_tokens) break;
    n_tokens += positions;
    batch.push_back(r.get());
    seqs.push_back(&r->seq);
  }
  if (batch.empty()) return;
  Stopwatch watch;
  absl::Status status = engine_->FirstPass(seqs);
  if (!status.ok()) {
    batch = RetryAlone(batch, status,
                       [&](ScheduledRequest& r) { return engine_->FirstPass({&r.seq}); });
  } else if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kFirstPass, static_cast<int>(batch.size()), n_tokens,
                            watch.Seconds());
  }
  for (ScheduledRequest* r : batch) {
    if (r->seq.phase == IpnPhase::kReady) r->newly_ready = true;
  }
}

void Scheduler::ReusePrefix(ScheduledRequest& r) {
  r.prefix_looked_up = true;
  if (!engine_->prefix_cache_enabled() || r.seq.slot >= 0) return;
  // Copying a slot costs about as much as computing a few positions: shorter matches (every
  // request on the same image shares [P, h_img]) are computed.
  constexpr int kMinReusedPositions = 4;
  r.n_cached_positions = engine_->AdoptCachedPrefix(r.seq, r.digest, kMinReusedPositions);
  if (deps_.observer != nullptr) {
    deps_.observer->OnPrefixCacheLookup(r.n_cached_positions > 0, r.n_cached_positions);
  }
}

void Scheduler::RunInteraction() {
  std::vector<ScheduledRequest*> batch;
  std::vector<IpnSequence*> seqs;
  for (auto& r : running_) {
    if (r->done || r->seq.phase != IpnPhase::kFirstPassed) continue;
    batch.push_back(r.get());
    seqs.push_back(&r->seq);
  }
  if (batch.empty()) return;
  Stopwatch watch;
  absl::Status status = engine_->Interact(seqs);
  if (!status.ok()) {
    RetryAlone(batch, status, [&](ScheduledRequest& r) { return engine_->Interact({&r.seq}); });
    return;
  }
  const double seconds = watch.Seconds();
  for (ScheduledRequest* r : batch) r->interaction_seconds = seconds / batch.size();
  if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kInteraction, static_cast<int>(batch.size()), 0,
                            seconds);
  }
}

void Scheduler::RunSecondPass() {
  std::vector<ScheduledRequest*> batch;
  std::vector<IpnSequence*> seqs;
  for (auto& r : running_) {
    if (r->done || r->seq.phase != IpnPhase::kInteracted) continue;
    batch.push_back(r.get());
    seqs.push_back(&r->seq);
  }
  if (batch.empty()) return;
  Stopwatch watch;
  absl::Status status = engine_->SecondPass(seqs);
  if (!status.ok()) {
    batch = RetryAlone(batch, status,
                       [&](ScheduledRequest& r) { return engine_->SecondPass({&r.seq}); });
  } else if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kSecondPass, static_cast<int>(batch.size()),
                            static_cast<int>(batch.size()), watch.Seconds());
  }
  for (ScheduledRequest* r : batch) r->newly_ready = true;
}

InferenceResult Scheduler::BaseResult(const ScheduledRequest& request) const {
  InferenceResult result;
  result.n_prompt_tokens = request.seq.prompt_positions();
  result.image_cache_hit = request.image_cache_hit;
  result.timings.queue_seconds = absl::ToDoubleSeconds(request.admitted - request.call->submitted);
  result.timings.interaction_seconds = request.interaction_seconds;
  if (request.first_token != absl::Time()) {
    result.timings.first_token_seconds =
        absl::ToDoubleSeconds(request.first_token - request.call->submitted);
  }
  return result;
}

void Scheduler::RunWholeRequests() {
  for (auto& r : running_) {
    if (r->done || !r->newly_ready || r->sampled()) continue;
    r->newly_ready = false;
    if (r->request().kind == RequestKind::kScoreChoices) {
      RunScoreChoices(*r);
    } else {
      RunBeamSearch(*r);
    }
  }
}

void Scheduler::RunBeamSearch(ScheduledRequest& r) {
  const InferenceRequest& request = r.request();
  BeamSearchParams params;
  params.num_beams = request.num_beams;
  params.length_penalty = request.length_penalty;
  params.max_new_tokens = r.params.max_new_tokens;  // capped to the sequence's room at Submit
  if (!r.params.ignore_eos) params.eos_token_ids = r.params.eos_token_ids;
  absl::StatusOr<std::unique_ptr<BeamSearchRun>> run = engine_->StartBeamSearch(r.seq, params);
  if (!run.ok()) return Complete(r, run.status());
  r.beams = *std::move(run);
}

void Scheduler::AdvanceBeamSearches() {
  Stopwatch watch;
  int n_beams = 0;
  for (auto& owned : running_) {
    ScheduledRequest& r = *owned;
    if (r.done || r.beams == nullptr) continue;
    n_beams += r.request().num_beams;
    absl::StatusOr<bool> finished = r.beams->Advance();
    if (!finished.ok()) {
      Complete(r, finished.status());
      continue;
    }
    if (!*finished) continue;  // its beams are rows of this iteration's decode step
    absl::StatusOr<InferenceResult> result =
        GuardTorch("beam search", [&]() -> absl::StatusOr<InferenceResult> {
          const BeamSearchResult found = r.beams->Result();
          InferenceResult out = BaseResult(r);
          const BeamHypothesis& best = found.hypotheses.at(0);
          out.tokens = best.tokens;
          std::vector<int> ids(best.tokens.begin(), best.tokens.end());
          LMEYE_ASSIGN_OR_RETURN(out.text, deps_.tokenizer->Decode(ids));
          out.finish_reason = best.ended_with_eos ? FinishReason::kEos : FinishReason::kLength;
          out.n_generated_tokens = static_cast<int>(best.tokens.size());
          return out;
        });
    if (result.ok()) {
      // Beam search streams nothing until the end: the whole text is one piece.
      r.first_token = absl::Now();
      result->timings.first_token_seconds = SecondsSince(r.call->submitted);
      if (!result->text.empty()) r.call->sink->OnText(result->text);
    }
    Complete(r, std::move(result));
  }
  if (n_beams > 0 && deps_.observer != nullptr) {
    // No model positions: the beams' step is part of the decode batch.
    deps_.observer->OnBatch(SchedulerPhase::kBeamSearch, n_beams, 0, watch.Seconds());
  }
}

void Scheduler::RunScoreChoices(ScheduledRequest& r) {
  std::vector<std::vector<int64_t>> choices;
  for (const auto& c : r.request().choices) choices.emplace_back(c.begin(), c.end());
  Stopwatch watch;
  absl::StatusOr<ChoiceScores> scores = engine_->ScoreChoices(r.seq, choices);
  if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kScoreChoices, static_cast<int>(choices.size()), 0,
                            watch.Seconds());
  }
  if (!scores.ok()) return Complete(r, scores.status());
  InferenceResult result = BaseResult(r);
  result.choices = *std::move(scores);
  Complete(r, std::move(result));
}

void Scheduler::SampleNewlyReady() {
  std::vector<ScheduledRequest*> batch;
  std::vector<at::Tensor> rows;
  for (auto& r : running_) {
    if (r->done || !r->newly_ready) continue;
    r->newly_ready = false;
    if (r->stream == nullptr) {
      auto stream =
          GenerationStream::Create(r->params, deps_.tokenizer, engine_->PenaltyContext(r->seq));
      if (!stream.ok()) {
        Complete(*r, stream.status());
        continue;
      }
      r->stream = *std::move(stream);
    }
    batch.push_back(r.get());
    rows.push_back(r->seq.next_logits);
  }
  if (batch.empty()) return;
  absl::StatusOr<at::Tensor> logits =
      GuardTorch("sampling", [&]() -> absl::StatusOr<at::Tensor> { return at::stack(rows); });
  if (!logits.ok()) return FailBatch(batch, logits.status());
  SampleRows(batch, *logits);
}

void Scheduler::SampleRows(const std::vector<ScheduledRequest*>& batch, const at::Tensor& logits) {
  std::vector<GenerationStream*> streams;
  for (ScheduledRequest* r : batch) streams.push_back(r->stream.get());
  absl::StatusOr<std::vector<StreamStep>> steps = AdvanceBatch(logits, streams);
  if (!steps.ok()) return FailBatch(batch, steps.status());
  const absl::Time now = absl::Now();
  for (size_t b = 0; b < batch.size(); ++b) {
    ScheduledRequest& r = *batch[b];
    StreamStep& step = (*steps)[b];
    if (r.first_token == absl::Time()) r.first_token = now;
    if (!step.text.empty()) r.call->sink->OnText(step.text);
    if (!step.finished && engine_->length(r.seq) >= engine_->capacity()) {
      // The slot cannot take the token: end as max_new_tokens would (admission makes this rare).
      std::string rest = r.stream->Finish(FinishReason::kLength);
      if (!rest.empty()) r.call->sink->OnText(rest);
      step.finished = true;
    }
    if (!step.finished) {
      r.next_token = step.token;
      continue;
    }
    InferenceResult result = BaseResult(r);
    result.text = r.stream->text();
    result.tokens.assign(r.stream->generated().begin(), r.stream->generated().end());
    result.finish_reason = r.stream->finish_reason();
    result.n_generated_tokens = r.stream->n_generated_tokens();
    Complete(r, std::move(result));
  }
}

void Scheduler::RunDecode() {
  // One row per sampled sequence and per live beam of every beam search awaiting its step.
  std::vector<DecodeRow> rows;
  for (auto& owned : running_) {
    ScheduledRequest& r = *owned;
    if (r.done) continue;
    if (r.next_token >= 0) {
      rows.push_back({&r, r.seq.slot, r.next_token});
      r.next_token = -1;
    } else if (r.beams != nullptr && r.beams->awaiting_step()) {
      for (size_t i = 0; i < r.beams->step_slots().size(); ++i) {
        rows.push_back({&r, r.beams->step_slots()[i], r.beams->step_tokens()[i]});
      }
    }
  }
  if (rows.empty()) return;
  // In slot order: the attention reads each run of consecutive slots in place instead of
  // gathering the batch's cache (kv_cache.h). A beam search's rows stay in the order of its
  // step_slots(), which ascend.
  std::sort(rows.begin(), rows.end(),
            [](const DecodeRow& a, const DecodeRow& b) { return a.slot < b.slot; });
  std::vector<int> slots;
  std::vector<int64_t> tokens;
  for (const DecodeRow& row : rows) {
    slots.push_back(row.slot);
    tokens.push_back(row.token);
  }
  Stopwatch watch;
  absl::StatusOr<at::Tensor> logits = engine_->DecodeStep(slots, tokens);  // [rows, V]
  if (!logits.ok()) {
    // Each request's rows alone; the rows of those that ran, in that order, with their logits.
    std::vector<ScheduledRequest*> batch;
    for (const DecodeRow& row : rows) {
      if (std::find(batch.begin(), batch.end(), row.request) == batch.end()) {
        batch.push_back(row.request);
      }
    }
    std::vector<DecodeRow> ran_rows;
    std::vector<at::Tensor> parts;
    RetryAlone(batch, logits.status(), [&](ScheduledRequest& r) -> absl::Status {
      std::vector<DecodeRow> own;
      std::vector<int> own_slots;
      std::vector<int64_t> own_tokens;
      for (const DecodeRow& row : rows) {
        if (row.request != &r) continue;
        own.push_back(row);
        own_slots.push_back(row.slot);
        own_tokens.push_back(row.token);
      }
      LMEYE_ASSIGN_OR_RETURN(at::Tensor part, engine_->DecodeStep(own_slots, own_tokens));
      parts.push_back(part);
      ran_rows.insert(ran_rows.end(), own.begin(), own.end());
      return absl::OkStatus();
    });
    if (ran_rows.empty()) return;
    rows = std::move(ran_rows);
    logits =
        GuardTorch("decode rows", [&]() -> absl::StatusOr<at::Tensor> { return at::cat(parts); });
    if (!logits.ok()) {
      std::vector<ScheduledRequest*> failed;
      for (const DecodeRow& row : rows) {
        if (std::find(failed.begin(), failed.end(), row.request) == failed.end()) {
          failed.push_back(row.request);
        }
      }
      return FailBatch(failed, logits.status());
    }
  } else if (deps_.observer != nullptr) {
    deps_.observer->OnBatch(SchedulerPhase::kDecode, static_cast<int>(rows.size()),
                            static_cast<int>(rows.size()), watch.Seconds());
  }
  DeliverDecodeRows(rows, *logits);
}

void Scheduler::DeliverDecodeRows(const std::vector<DecodeRow>& rows, const at::Tensor& logits) {
  std::vector<ScheduledRequest*> sampled;
  std::vector<int64_t> sampled_rows;
  // Beam searches with the indices of their rows, in their step_slots() order.
  std::vector<std::pair<ScheduledRequest*, std::vector<int64_t>>> beams;
  for (size_t i = 0; i < rows.size(); ++i) {
    ScheduledRequest* r = rows[i].request;
    if (r->beams == nullptr) {
      sampled.push_back(r);
      sampled_rows.push_back(static_cast<int64_t>(i));
      continue;
    }
    auto it = std::find_if(beams.begin(), beams.end(),
                           [&](const auto& entry) { return entry.first == r; });
    if (it == beams.end()) {
      beams.emplace_back(r, std::vector<int64_t>());
      it = beams.end() - 1;
    }
    it->second.push_back(static_cast<int64_t>(i));
  }
  for (auto& [r, indices] : beams) {
    absl::Status status = GuardTorch("beam search rows", [&]() -> absl::Status {
      return r->beams->SetStepLogits(
          logits.index_select(0, at::tensor(indices, at::kLong).to(logits.device())));
    });
    if (!status.ok()) Complete(*r, status);
  }
  if (sampled.empty()) return;
  if (sampled.size() == rows.size()) return SampleRows(sampled, logits);
  absl::StatusOr<at::Tensor> sampled_logits =
      GuardTorch("decode rows", [&]() -> absl::StatusOr<at::Tensor> {
        return logits.index_select(0, at::tensor(sampled_rows, at::kLong).to(logits.device()));
      });
  if (!sampled_logits.ok()) return FailBatch(sampled, sampled_logits.status());
  SampleRows(sampled, *sampled_logits);
}

}  // namespace lmeye
