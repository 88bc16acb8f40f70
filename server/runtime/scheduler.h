// One worker's scheduler: the thread that owns the IPN engine and its KV cache and runs
// continuous batching over the requests submitted to the worker (docs/DESIGN.md section 3,
// docs/STYLE.md 8).
//
// Pipeline of a request:
//   Submit (RPC thread: checks, then enqueue) -> ImagePool (hash, image cache, decode, CLIP
//   preprocessing; a bad image ends here with INVALID_ARGUMENT) -> waiting queue -> admission
//   (FIFO, within max_running and the KV budget) -> vision batch -> first pass batch ->
//   interaction batch -> second pass batch -> sampling, then one decode step over every running
//   sequence per iteration.
//
// Every iteration of the loop, in order:
//   1. take the requests whose images are ready (or that have none) into the waiting queue;
//   2. drop cancelled (InferenceCall::cancelled) and expired (deadline) requests, waiting or
//      running: their KV slot is freed and OnDone(CANCELLED / DEADLINE_EXCEEDED) is called;
//   3. admit waiting requests in order while their reservation fits;
//   4. one batched step of each prompt phase that has work: vision (images that missed the
//      cache; the features are inserted into it), first pass (at most max_batched_tokens
//      computed positions, at least one request; a request first looks up the prefix cache
//      and computes only the positions after the longest shared prefix), interaction, second
//      pass;
//   5. requests whose prompt is done: choice scoring runs now, alone, to the end, on this
//      thread (ScoreChoices on the engine's cache), and finishes; a beam search (num_beams > 1)
//      starts; every running beam search chooses its beams' next tokens from its last logits
//      (BeamSearchRun::Advance: top-k over the beams, slot copies where a beam forks), and
//      those that end finish; sampled requests sample their first token;
//   6. ONE decode step (IpnEngine::DecodeStep) whose rows are every running sampled sequence
//      and every live beam of the running beam searches, in slot order. Then each sampled
//      sequence samples its next token with its own GenerationStream (AdvanceBatch:
//      per-request RNG, so seeded sampling does not depend on the batch), streams the released
//      text with ResponseSink::OnText, and finishes with OnDone when the stream ends; each beam
//      search takes its beams' rows (BeamSearchRun::SetStepLogits) for step 5 of the next
//      iteration.
// Admission reserves a request's worst case (prompt + max_new_tokens positions, num_beams
// slots), so an admitted request never runs out of KV and nothing is ever preempted; the price
// is fewer requests admitted at once when most stop long before max_new_tokens.
//
// A beam search advances one step per iteration, as num_beams rows of the decode step, beside
// the sampled sequences: a Describe costs the others the rows it adds to their batch, not a
// model call of its own. It is counted as running, and a cancel or deadline ends it within one
// iteration. A row's logits are those of the same step without the other rows (up to a batched
// kernel's rounding, as for sampled rows): the tests hold its tokens equal to the search run
// alone. Choice scoring runs to the end inside one iteration (the choices
// of one request, a few positions each).
//
// New requests join between iterations; a finished request's slot is free for the next
// iteration's admission (its KV prefix stays in the prefix cache while no admitted request
// needs the slot). A failed batched engine call is run again for each request of the batch
// alone (a beam search: its rows together): only a request that fails by itself ends (OnDone
// with its error), so one request never fails another, and the scheduler keeps serving.
//
// Threads: Submit, load and Drain may be called from any thread. Sinks and the observer are
// called from the scheduler thread, or from an image-pool thread for a bad image; the observer's
// OnQueueState also from the RPC thread that cancels a waiting request (InferenceCall::Cancel),
// which counts it out of `waiting` at once. Everything else is the scheduler thread's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/ipn/engine.h"
#include "model/ipn/image_cache.h"
#include "model/tokenizer/tokenizer.h"
#include "model/vision/image_preprocess.h"
#include "model/vision/image_probe.h"
#include "server/runtime/image_pool.h"
#include "server/runtime/inference.h"
#include "server/runtime/scheduler_observer.h"
#include "server/runtime/scheduler_options.h"

namespace lmeye {

struct ScheduledRequest;  // server/scheduler_request.h

// What the router balances on and what metrics show.
struct SchedulerLoad {
  int waiting = 0;  // submitted, not yet admitted (image decoding included)
  int running = 0;  // admitted, not finished
  // KV positions the running requests hold after the last iteration (prefix-cache entries,
  // reclaimable at any time, are not counted: the figure is back to 0 when nothing runs).
  int64_t kv_used_tokens = 0;
  int64_t kv_capacity_tokens = 0;  // the admission budget
};

// What the scheduler borrows. Everything must outlive it.
struct SchedulerDeps {
  LmeyeModel* model = nullptr;
  const Tokenizer* tokenizer = nullptr;  // detokenizing, stop strings, default EOS
  const ClipImagePreprocessor* preprocessor = nullptr;
  ImageFeatureCache* image_cache = nullptr;  // may be null: no image caching
  ImageLimits image_limits;
  SchedulerObserver* observer = nullptr;  // may be null
  int worker_index = 0;                   // OnQueueState's `worker`
};

class Scheduler {
 public:
  // Allocates the KV cache (max_running slots of max_sequence_positions) and starts the thread.
  // max_sequence_positions is clamped to the LLM's learned position table where it has one
  // (options() reports the clamped value): no admitted sequence can run past the model.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(const SchedulerOptions& options,
                                                           const SchedulerDeps& deps);
  // Drain(now): requests still in flight get OnDone(UNAVAILABLE).
  ~Scheduler();

  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `call` (the InferenceBackend contract). Refuses, without calling the sink:
  // UNAVAILABLE once draining; INVALID_ARGUMENT for a request the scheduler cannot run (no sink,
  // num_beams < 1, no choices, invalid sampling parameters); RESOURCE_EXHAUSTED when the queue
  // is full or the request can never fit (a prompt that leaves no position to generate in, or
  // prompt + longest choice over max_sequence_positions; its reservation over the KV budget;
  // num_beams over max_running), naming the numbers. max_new_tokens past max_sequence_positions
  // is capped: the answer ends there with finish reason "length".
  absl::Status Submit(std::shared_ptr<InferenceCall> call);

  SchedulerLoad load() const;
  const SchedulerOptions& options() const { return options_; }

  // Stops admitting new submits (UNAVAILABLE), lets in-flight requests finish until `deadline`,
  // then ends what is left with OnDone(UNAVAILABLE) and stops the thread. Blocks until then.
  // Idempotent: a later call returns once the first one is done.
  void Drain(absl::Time deadline);

 private:
  Scheduler(const SchedulerOptions& options, const SchedulerDeps& deps,
            std::unique_ptr<IpnEngine> engine);

  // RPC / pool threads.
  void Enqueue(std::unique_ptr<ScheduledRequest> request);
  void OnImagePrepared(ScheduledRequest* request, absl::StatusOr<PreparedImage> image);

  // Scheduler thread (scheduler.cc).
  void Loop();
  void Intake(std::deque<std::unique_ptr<ScheduledRequest>>* incoming);
  void DropCancelledAndExpired();
  void Admit();
  void FailEverything(const absl::Status& status);
  void ReportQueueState();
  // Ends `request` with `result` (OnDone), frees its slot and reservation; it leaves running_
  // at the next Sweep.
  void Complete(ScheduledRequest& request, absl::StatusOr<InferenceResult> result);
  void Sweep();
  // Evicts prefix-cache entries until every admitted request can allocate the slots it
  // reserved.
  void MakeRoomForReservations();
  // Counts `request` out of n_queued_ unless its cancel did already.
  void LeaveQueue(ScheduledRequest& request);
  // Reports the counters to the observer as they are now; from the loop and from cancel hooks.
  void PublishQueueState();
  // The slot of a request that finished well goes to the prefix cache (or is released).
  void RetireSlot(ScheduledRequest& request);
  // A prefix-cache lookup for a request about to enter the first pass; on a hit it gets a slot
  // holding the shared positions.
  void ReusePrefix(ScheduledRequest& request);

  // Scheduler thread (scheduler_phases.cc): one iteration's batched work.
  void RunVision();
  void RunFirstPass();
  void RunInteraction();
  void RunSecondPass();
  void RunWholeRequests();  // beam searches start, choices are scored
  void SampleNewlyReady();
  // One decode step over every running sampled sequence and every live beam of the beam
  // searches awaiting their step (AdvanceBeamSearches), then DeliverDecodeRows.
  void RunDecode();
  struct DecodeRow {
    ScheduledRequest* request;
    int slot;
    int64_t token;
  };
  // Row i of `logits` [rows, V] is rows[i]'s: sampled requests sample their next token
  // (SampleRows), beam searches take their beams' rows (BeamSearchRun::SetStepLogits).
  void DeliverDecodeRows(const std::vector<DecodeRow>& rows, const at::Tensor& logits);
  // Row b of `logits` [B, V] advances batch[b]'s stream; streams text, finishes ended requests.
  void SampleRows(const std::vector<ScheduledRequest*>& batch, const at::Tensor& logits);
  void FailBatch(const std::vector<ScheduledRequest*>& batch, const absl::Status& status);
  // After a batched engine call failed with `status`: runs `run_one` for each request of the
  // batch alone and fails only those that fail alone (a batch of one fails at once). Returns the
  // requests that ran. Sound because the engine's batched calls leave the KV cache and the
  // sequences as they were when they fail (model/ipn/engine.h).
  std::vector<ScheduledRequest*> RetryAlone(
      const std::vector<ScheduledRequest*>& batch, const absl::Status& status,
      const std::function<absl::Status(ScheduledRequest&)>& run_one);
  // Starts the beam search of a request whose prompt is done; AdvanceBeamSearches chooses the
  // next tokens of every running beam search from its last step (BeamSearchRun::Advance),
  // finishes those that end and leaves the others' beams to this iteration's decode step.
  void RunBeamSearch(ScheduledRequest& request);
  void AdvanceBeamSearches();
  void RunScoreChoices(ScheduledRequest& request);
  InferenceResult BaseResult(const ScheduledRequest& request) const;

  const SchedulerOptions options_;
  const SchedulerDeps deps_;
  std::unique_ptr<IpnEngine> engine_;  // scheduler thread only
  // Scheduler thread only; holds slots of engine_'s cache, so it is destroyed first.
  std::unique_ptr<ImagePool> image_pool_;

  // Requests submitted and not yet finished: Drain waits for 0.
  std::atomic<int> n_in_flight_{0};
  // Submitted and not admitted: the queue bound and the router's `waiting`.
  std::atomic<int> n_queued_{0};
  std::atomic<int> n_running_{0};
  std::atomic<int64_t> kv_used_tokens_{0};

  mutable std::mutex mu_;
  std::condition_variable wake_;                         // the loop: new input or stop
  std::condition_variable idle_;                         // Drain: n_in_flight_ reached 0
  std::deque<std::unique_ptr<ScheduledRequest>> inbox_;  // guarded by mu_
  bool draining_ = false;                                // guarded by mu_: Submit refuses
  bool stop_ = false;         // guarded by mu_: the loop fails what is left and exits
  bool loop_exited_ = false;  // guarded by mu_: late image callbacks fail their request
  std::mutex join_mu_;        // one Drain joins the thread
  std::thread thread_;

  // Scheduler thread only.
  std::deque<std::unique_ptr<ScheduledRequest>> waiting_;
  std::vector<std::unique_ptr<ScheduledRequest>> running_;  // admission order
  int reserved_slots_ = 0;
  int64_t reserved_tokens_ = 0;
};

}  // namespace lmeye
