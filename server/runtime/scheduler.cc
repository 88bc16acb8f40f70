#include "server/runtime/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "server/runtime/scheduler_request.h"

namespace lmeye {
namespace {

// How long an idle loop sleeps before looking again (new input wakes it at once).
constexpr absl::Duration kIdleWait = absl::Milliseconds(50);

// `options` within what the model can run: a family with a learned position table (OPT) has no
// position past it, so a sequence longer than the table would fail in the middle of a batched
// step. Clamped here, the limit is enforced at Submit, before anything runs.
SchedulerOptions WithinTheModel(SchedulerOptions options, const LmeyeModel& model) {
  const int64_t limit = model.max_sequence_positions();
  if (limit <= 0 || options.max_sequence_positions <= limit) return options;
  options.max_sequence_positions = static_cast<int>(limit);
  options.kv_capacity_tokens = std::min<int64_t>(
      options.kv_capacity_tokens, int64_t{options.max_running} * options.max_sequence_positions);
  return options;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerOptions& requested,
                                                             const SchedulerDeps& deps) {
  LMEYE_RETURN_IF_ERROR(requested.Validate());
  if (deps.model == nullptr || deps.tokenizer == nullptr || deps.preprocessor == nullptr) {
    return absl::InvalidArgumentError("Scheduler: needs a model, a tokenizer and a preprocessor");
  }
  const SchedulerOptions options = WithinTheModel(requested, *deps.model);
  EngineOptions engine_options;
  engine_options.n_slots = options.max_running;
  engine_options.capacity = options.max_sequence_positions;
  engine_options.prefix_cache_entries = options.prefix_cache_entries;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<IpnEngine> engine,
                         IpnEngine::Create(deps.model, engine_options));
  return std::unique_ptr<Scheduler>(new Scheduler(options, deps, std::move(engine)));
}

Scheduler::Scheduler(const SchedulerOptions& options, const SchedulerDeps& deps,
                     std::unique_ptr<IpnEngine> engine)
    : options_(options), deps_(deps), engine_(std::move(engine)) {
  image_pool_ = std::make_unique<ImagePool>(options.image_decode_threads, *deps.preprocessor,
                                            deps.image_limits, deps.image_cache, deps.observer);
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Drain(absl::Now()); }

absl::Status Scheduler::Submit(std::shared_ptr<InferenceCall> call) {
  if (call == nullptr || call->sink == nullptr) {
    return absl::InvalidArgumentError("Submit: a call with a sink is required");
  }
  const InferenceRequest& r = call->request;
  auto request = std::make_unique<ScheduledRequest>();
  request->seq.prefix = r.prompt.prefix;
  request->seq.text = r.prompt.text;
  request->seq.tail = r.prompt.tail;
  request->seq.has_image = !r.image.empty();
  request->seq.interaction = r.interaction;
  const int64_t positions = request->seq.prompt_positions();
  if (positions == 0) return absl::InvalidArgumentError("prompt: no tokens and no image");

  // The largest the request gets: slots held at once and positions per slot.
  int64_t per_slot = 0;
  int max_new_tokens = r.sampling.max_new_tokens;
  if (r.kind == RequestKind::kScoreChoices) {
    if (r.choices.empty()) return absl::InvalidArgumentError("choices: at least one is required");
    size_t longest = 0;
    for (size_t i = 0; i < r.choices.size(); ++i) {
      if (r.choices[i].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("choices[", i, "]: no tokens"));
      }
      longest = std::max(longest, r.choices[i].size());
    }
    // The prompt's slot plus one copy per choice scored at a time (at least one).
    request->n_slots = 2;
    per_slot = positions + static_cast<int64_t>(longest);
  } else {
    if (r.num_beams < 1) return absl::InvalidArgumentError("num_beams: must be at least 1");
    LMEYE_RETURN_IF_ERROR(r.sampling.Validate());
    request->n_slots = r.num_beams;
    // The prompt must leave room for one token; max_new_tokens is capped to what is left (the
    // answer then ends with finish reason "length", as at max_new_tokens).
    if (positions >= options_.max_sequence_positions) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "prompt too long: a prompt of ", positions, " positions leaves no room to generate in ",
          "the per-sequence capacity of ", options_.max_sequence_positions, " positions"));
    }
    max_new_tokens = static_cast<int>(
        std::min<int64_t>(max_new_tokens, options_.max_sequence_positions - positions));
    per_slot = positions + max_new_tokens;
  }
  request->n_tokens = per_slot * request->n_slots;
  if (per_slot > options_.max_sequence_positions) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request too long: a prompt of ", positions, " positions + the longest ",
                     "choice = ", per_slot, " exceeds the per-sequence capacity of ",
                     options_.max_sequence_positions, " positions"));
  }
  if (request->n_slots > options_.max_running) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request needs ", request->n_slots, " sequences at once (",
                     r.kind == RequestKind::kScoreChoices ? "choice scoring" : "num_beams",
                     "), the worker runs at most ", options_.max_running));
  }
  if (request->n_tokens > options_.kv_budget_tokens()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("request needs ", request->n_tokens, " KV-cache positions (", request->n_slots,
                     " x ", per_slot, "), the KV budget is ", options_.kv_budget_tokens()));
  }
  request->params = r.sampling;
  request->params.max_new_tokens = max_new_tokens;
  if (request->params.eos_token_ids.empty() && deps_.tokenizer->eos_id() >= 0) {
    request->params.eos_token_ids = {deps_.tokenizer->eos_id()};
  }
  request->call = std::move(call);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_) return absl::UnavailableError("worker: draining, not accepting requests");
    if (n_queued_.load() >= options_.max_queue) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full: ", options_.max_queue, " requests waiting"));
    }
    ++n_queued_;
    ++n_in_flight_;
  }
  // Before the request can finish (and clear the hook): `this` outlives it, since every request
  // ends (OnDone) before the scheduler is destroyed.
  request->call->SetCancelHook([this, queued = request->queued] {
    if (!queued->exchange(false)) return;
    --n_queued_;
    PublishQueueState();
  });
  if (!request->seq.has_image) {
    Enqueue(std::move(request));
    return absl::OkStatus();
  }
  ScheduledRequest* raw = request.release();  // the pool's until the callback
  image_pool_->Prepare(&raw->call->request.image, [this, raw](absl::StatusOr<PreparedImage> image) {
    OnImagePrepared(raw, std::move(image));
  });
  return absl::OkStatus();
}

void Scheduler::OnImagePrepared(ScheduledRequest* raw, absl::StatusOr<PreparedImage> image) {
  std::unique_ptr<ScheduledRequest> request(raw);
  if (image.ok()) {
    request->digest = image->digest;
    request->image_cache_hit = image->cache_hit();
    if (image->cache_hit()) {
      request->seq.h_i = image->h_i;
    } else {
      request->pixels = image->pixels;
    }
    Enqueue(std::move(request));
    return;
  }
  // A bad image never reaches the model. Counted out before OnDone, so that a client that
  // resubmits at once sees the queue without it.
  std::shared_ptr<InferenceCall> call = request->call;
  LeaveQueue(*request);
  call->SetCancelHook(nullptr);
  call->sink->OnDone(image.status());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_in_flight_ == 0) idle_.notify_all();
  }
}

void Scheduler::Enqueue(std::unique_ptr<ScheduledRequest> request) {
  std::unique_lock<std::mutex> lock(mu_);
  if (loop_exited_) {
    lock.unlock();
    LeaveQueue(*request);
    request->call->SetCancelHook(nullptr);
    request->call->sink->OnDone(absl::UnavailableError("worker: stopped"));
    lock.lock();
    if (--n_in_flight_ == 0) idle_.notify_all();
    return;
  }
  inbox_.push_back(std::move(request));
  wake_.notify_one();
}

SchedulerLoad Scheduler::load() const {
  SchedulerLoad load;
  load.waiting = n_queued_.load();
  load.running = n_running_.load();
  load.kv_used_tokens = kv_used_tokens_.load();
  load.kv_capacity_tokens = options_.kv_budget_tokens();
  return load;
}

void Scheduler::Drain(absl::Time deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    draining_ = true;
    while (n_in_flight_.load() > 0 && !stop_) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      idle_.wait_for(lock, absl::ToChronoMilliseconds(std::min(left, absl::Milliseconds(100))));
    }
    stop_ = true;
  }
  wake_.notify_all();
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (thread_.joinable()) thread_.join();
  // Images still being prepared find loop_exited_ and fail their request.
  image_pool_->Stop();
}

void Scheduler::Loop() {
  for (;;) {
    std::deque<std::unique_ptr<ScheduledRequest>> incoming;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (inbox_.empty() && !stop_ && waiting_.empty() && running_.empty()) {
        wake_.wait_for(lock, absl::ToChronoMilliseconds(kIdleWait),
                       [this] { return stop_ || !inbox_.empty(); });
      }
      incoming.swap(inbox_);
      stop = stop_;
    }
    Intake(&incoming);
    if (stop) {
      FailEverything(absl::UnavailableError("worker: shut down before the request finished"));
      std::lock_guard<std::mutex> lock(mu_);
      loop_exited_ = true;
      return;
    }
    DropCancelledAndExpired();
    Admit();
    MakeRoomForReservations();
    if (!running_.empty()) {
      try {
        RunVision();
        RunFirstPass();
        RunInteraction();
        RunSecondPass();
        RunWholeRequests();
        AdvanceBeamSearches();
        SampleNewlyReady();
        RunDecode();
      } catch (const std::exception& e) {
        // Engine calls return Status; this is for what escaped them. The running requests'
        // state is unknown, so they end, and the worker goes on with the next ones.
        const absl::Status status =
            absl::InternalError(absl::StrCat("scheduler step failed: ", e.what()));
        for (auto& request : running_) Complete(*request, status);
      }
      Sweep();
    }
    ReportQueueState();
  }
}

void Scheduler::Intake(std::deque<std::unique_ptr<ScheduledRequest>>* incoming) {
  for (auto& request : *incoming) waiting_.push_back(std::move(request));
  incoming->clear();
}

void Scheduler::DropCancelledAndExpired() {
  const absl::Time now = absl::Now();
  auto reason = [&](const ScheduledRequest& r) -> absl::Status {
    if (r.call->cancelled.load()) return absl::CancelledError("request cancelled");
    if (now >= r.request().deadline) {
      return absl::DeadlineExceededError("deadline exceeded before the request finished");
    }
    return absl::OkStatus();
  };
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    absl::Status status = reason(**it);
    if (status.ok()) {
      ++it;
      continue;
    }
    std::unique_ptr<ScheduledRequest> request = std::move(*it);
    it = waiting_.erase(it);
    LeaveQueue(*request);
    request->call->SetCancelHook(nullptr);
    request->call->sink->OnDone(status);
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_in_flight_ == 0) idle_.notify_all();
  }
  for (auto& request : running_) {
    if (request->done) continue;
    absl::Status status = reason(*request);
    if (!status.ok()) Complete(*request, status);
  }
  Sweep();
}

void Scheduler::Admit() {
  const absl::Time now = absl::Now();
  while (!waiting_.empty()) {
    ScheduledRequest& next = *waiting_.front();
    // FIFO: a large request at the head waits for room rather than being overtaken forever.
    if (reserved_slots_ + next.n_slots > options_.max_running ||
        reserved_tokens_ + next.n_tokens > options_.kv_budget_tokens()) {
      break;
    }
    reserved_slots_ += next.n_slots;
    reserved_tokens_ += next.n_tokens;
    next.admitted = now;
    LeaveQueue(next);
    ++n_running_;
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Scheduler::Complete(ScheduledRequest& request, absl::StatusOr<InferenceResult> result) {
  if (request.done) return;
  request.done = true;
  request.beams.reset();  // its slots first: seq.slot is released or retired below
  if (result.ok()) {
    result->n_cached_prompt_tokens = request.n_cached_positions;
    RetireSlot(request);
  } else {
    engine_->Release(request.seq);
  }
  reserved_slots_ -= request.n_slots;
  reserved_tokens_ -= request.n_tokens;
  --n_running_;
  if (result.ok()) {
    result->timings.total_seconds = absl::ToDoubleSeconds(absl::Now() - request.call->submitted);
  }
  request.call->SetCancelHook(nullptr);
  request.call->sink->OnDone(std::move(result));
  std::lock_guard<std::mutex> lock(mu_);
  if (--n_in_flight_ == 0) idle_.notify_all();
}

void Scheduler::MakeRoomForReservations() {
  int held = 0;
  for (const auto& request : running_) {
    held += request->seq.slot >= 0 ? 1 : 0;
    if (request->beams != nullptr) held += request->beams->n_extra_slots();
  }
  engine_->EvictCachedPrefixesUntilFree(reserved_slots_ - held);
}

void Scheduler::RetireSlot(ScheduledRequest& request) {
  engine_->Retire(
      request.seq, request.digest,
      request.stream != nullptr ? request.stream->generated() : absl::Span<const int64_t>());
}

void Scheduler::Sweep() {
  running_.erase(std::remove_if(running_.begin(), running_.end(),
                                [](const std::unique_ptr<ScheduledRequest>& r) { return r->done; }),
                 running_.end());
}

void Scheduler::FailEverything(const absl::Status& status) {
  for (auto& request : running_) Complete(*request, status);
  Sweep();
  while (!waiting_.empty()) {
    std::unique_ptr<ScheduledRequest> request = std::move(waiting_.front());
    waiting_.pop_front();
    LeaveQueue(*request);
    request->call->SetCancelHook(nullptr);
    request->call->sink->OnDone(status);
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_in_flight_ == 0) idle_.notify_all();
  }
}

void Scheduler::ReportQueueState() {
  int64_t used = 0;
  for (const auto& request : running_) {
    used += engine_->length(request->seq);
  }
  kv_used_tokens_ = used;
  PublishQueueState();
}

void Scheduler::LeaveQueue(ScheduledRequest& request) {
  if (request.queued->exchange(false)) --n_queued_;
}

void Scheduler::PublishQueueState() {
  if (deps_.observer == nullptr) return;
  // The loop and a cancel hook may report at once, and the older figures may land last: a
  // report whose figures changed meanwhile is repeated (a few times at most: Submit moves them
  // all the time), so the last word is the current count, not the next iteration's.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int waiting = n_queued_.load();
    const int running = n_running_.load();
    const int64_t used = kv_used_tokens_.load();
    deps_.observer->OnQueueState(deps_.worker_index, waiting, running, used,
                                 options_.kv_budget_tokens());
    if (waiting == n_queued_.load() && running == n_running_.load() &&
        used == kv_used_tokens_.load()) {
      return;
    }
  }
}

}  // namespace lmeye
