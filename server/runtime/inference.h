// The native request the gRPC edge hands to a worker, and how results come back. No proto type
// crosses this line (docs/STYLE.md 6): the service converts protos into an InferenceRequest (prompt
// already tokenized, parameters validated), submits it to an InferenceBackend (the router, or a
// fake in tests) and receives text and the final result through its ResponseSink.
//
// Threads: Submit is called from RPC threads. The sink's methods are called from the worker's
// scheduler thread (or an image-decode thread for early errors), never concurrently for one
// request, and must not block: they hand data to the RPC side and return.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "model/generate/choice_scores.h"
#include "model/generate/sampling_params.h"
#include "model/ipn/prompt.h"

namespace lmeye {

enum class RequestKind {
  kGenerate,      // sampling (num_beams == 1) or beam search
  kScoreChoices,  // multiple choice: the log-likelihood of each choice after the prompt
};

struct InferenceRequest {
  std::string rpc;          // "Chat", "Describe", "AnswerVQA": for metrics and logs
  std::string image;        // encoded image bytes; empty: no image (text-only chat)
  IpnPrompt prompt;         // P and X, tokenized by the edge (PromptBuilder)
  bool interaction = true;  // false: IPN* (static visual information only)
  RequestKind kind = RequestKind::kGenerate;
  SamplingParams sampling;  // validated by the edge; eos ids filled by the worker when empty
  int num_beams = 1;        // > 1: beam search (no streaming until the end)
  double length_penalty = 1.0;
  std::vector<std::vector<int>> choices;  // kScoreChoices: ids of each choice after the prompt
  absl::Time deadline = absl::InfiniteFuture();
};

struct InferenceTimings {
  double queue_seconds = 0;        // submit -> admitted into the running batch
  double first_token_seconds = 0;  // submit -> first token sampled (0 for kScoreChoices)
  double total_seconds = 0;        // submit -> finished
  double interaction_seconds = 0;  // this request's share of its interaction batch
};

struct InferenceResult {
  std::string text;  // the whole generated text (what was streamed, concatenated)
  std::vector<int64_t> tokens;
  FinishReason finish_reason = FinishReason::kNone;
  int n_prompt_tokens = 0;  // LLM positions of the prompt (image and slot included)
  int n_generated_tokens = 0;
  int n_cached_prompt_tokens = 0;  // prompt positions reused from the prefix cache
  bool image_cache_hit = false;
  ChoiceScores choices;  // kScoreChoices
  InferenceTimings timings;
};

// Receives one request's output. OnText is called for each piece of text as it becomes safe to
// stream (sampling only); OnDone exactly once, last, with the result or the error (CANCELLED,
// DEADLINE_EXCEEDED, INVALID_ARGUMENT for a bad image, RESOURCE_EXHAUSTED when it can never
// fit, INTERNAL).
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  virtual void OnText(absl::string_view delta) = 0;
  virtual void OnDone(absl::StatusOr<InferenceResult> result) = 0;
};

// One submitted request: what the edge sent, where results go, and the cancel flag the edge
// sets (Cancel) when the client goes away. The worker drops a cancelled request (freeing its KV)
// within one scheduler step and calls OnDone(CANCELLED).
struct InferenceCall {
  InferenceRequest request;
  std::shared_ptr<ResponseSink> sink;
  std::atomic<bool> cancelled{false};
  absl::Time submitted = absl::Now();

  // Sets `cancelled` and runs the backend's cancel hook, on the caller's thread: a request that
  // is still waiting leaves the queue's count at once, not when the scheduler next looks (the
  // waiting gauge would otherwise count cancelled requests until they are reaped).
  void Cancel() {
    cancelled.store(true);
    std::lock_guard<std::mutex> lock(hook_mu_);
    if (on_cancel_) on_cancel_();
  }
  // The backend's. `hook` must be cheap and must not block (it runs on an RPC thread under a
  // lock); it runs at once if the call is already cancelled. Once SetCancelHook(nullptr)
  // returns, the hook is not running and never runs again: clear it before the call leaves.
  void SetCancelHook(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(hook_mu_);
    on_cancel_ = std::move(hook);
    if (on_cancel_ && cancelled.load()) on_cancel_();
  }

 private:
  std::mutex hook_mu_;
  std::function<void()> on_cancel_;
};

// What the gRPC edge talks to: the router over the workers, or a fake in tests.
class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;
  // Queues the call. RESOURCE_EXHAUSTED when the queue is full or the request can never fit
  // (prompt + max_new_tokens over a sequence's capacity), UNAVAILABLE while loading or
  // draining. On error nothing was queued and the sink is not called.
  virtual absl::Status Submit(std::shared_ptr<InferenceCall> call) = 0;
};

}  // namespace lmeye
