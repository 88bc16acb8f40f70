// What a worker's scheduler reports as it runs, for metrics (server/metrics implements it with
// prometheus-cpp; tests use a recording fake). Request-level figures (latencies, token counts,
// status codes) are recorded by the gRPC edge from InferenceResult; these are the figures only
// the scheduler sees.
//
// Threads: called from scheduler threads (one per worker, so possibly several at once) and
// image-decode threads. Implementations must be thread-safe and cheap (no I/O, no blocking).
#pragma once

#include <cstdint>

namespace lmeye {

enum class SchedulerPhase {
  kImageDecode,   // decode + CLIP preprocessing (per image, on the decode pool)
  kVision,        // batched vision encode
  kFirstPass,     // batched first pass (prompt prefill)
  kInteraction,   // batched IPN interaction
  kSecondPass,    // batched one-position second pass
  kDecode,        // one batched decode step over every running sequence and live beam
  kScoreChoices,  // multiple-choice scoring of one request
  // Choosing the next tokens of every running beam search (top-k, slot copies where a beam
  // forks; batch size: the beams, no positions): their model step is a part of kDecode's.
  kBeamSearch,
};

// "image_decode", "vision", "first_pass", "interaction", "second_pass", "decode",
// "score_choices", "beam_search": the `phase` label.
inline const char* SchedulerPhaseName(SchedulerPhase phase) {
  switch (phase) {
    case SchedulerPhase::kImageDecode:
      return "image_decode";
    case SchedulerPhase::kVision:
      return "vision";
    case SchedulerPhase::kFirstPass:
      return "first_pass";
    case SchedulerPhase::kInteraction:
      return "interaction";
    case SchedulerPhase::kSecondPass:
      return "second_pass";
    case SchedulerPhase::kDecode:
      return "decode";
    case SchedulerPhase::kScoreChoices:
      return "score_choices";
    case SchedulerPhase::kBeamSearch:
      return "beam_search";
  }
  return "unknown";
}

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  // One batched step of `phase` ran over `batch_size` sequences (images for kVision) and
  // `n_tokens` LLM positions (0 where not meaningful) in `seconds`.
  virtual void OnBatch(SchedulerPhase phase, int batch_size, int n_tokens, double seconds) = 0;
  // After each scheduler iteration, and on the cancelling thread when a waiting request is
  // cancelled (it leaves `waiting` at once): requests queued but not admitted, requests
  // admitted and not finished, KV-cache positions in use and the capacity in positions.
  virtual void OnQueueState(int worker, int waiting, int running, int64_t kv_used_tokens,
                            int64_t kv_capacity_tokens) = 0;
  // One image-feature cache lookup (hit: the image was not encoded again).
  virtual void OnImageCacheLookup(bool hit) = 0;
  // One prefix-cache lookup; `reused_tokens` prompt positions were not recomputed (0 on a miss).
  virtual void OnPrefixCacheLookup(bool hit, int reused_tokens) = 0;
};

}  // namespace lmeye
