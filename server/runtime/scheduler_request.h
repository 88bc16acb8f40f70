// A request's state inside the scheduler (server/scheduler.h). Private to the scheduler's
// translation units; owned by the scheduler (by the image pool while its image is prepared).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <ATen/core/Tensor.h>

#include "absl/time/time.h"
#include "model/generate/beam_search.h"
#include "model/generate/generation_stream.h"
#include "model/generate/sampling_params.h"
#include "model/ipn/engine.h"
#include "model/ipn/image_cache.h"
#include "server/runtime/inference.h"

namespace lmeye {

struct ScheduledRequest {
  std::shared_ptr<InferenceCall> call;
  const InferenceRequest& request() const { return call->request; }
  // True while counted in Scheduler::n_queued_ (submitted, not admitted). Whoever counts it out
  // first clears it: the loop (admitted, dropped, failed) or the client's cancel (the call's
  // cancel hook, on an RPC thread, which may outlive this struct: hence shared).
  std::shared_ptr<std::atomic<bool>> queued = std::make_shared<std::atomic<bool>>(true);
  bool sampled() const {
    return request().kind == RequestKind::kGenerate && request().num_beams == 1;
  }

  // Admission: what it may hold at its largest.
  int n_slots = 1;
  int64_t n_tokens = 0;

  // Image: pixels until the vision batch turns them into seq.h_i (a cache hit sets h_i at once).
  ImageDigest digest;
  at::Tensor pixels;  // [3, H, W]
  bool image_cache_hit = false;

  IpnSequence seq;
  bool prefix_looked_up = false;
  int n_cached_positions = 0;                // first-pass positions copied from the prefix cache
  SamplingParams params;                     // request().sampling with the model's EOS filled in
  std::unique_ptr<GenerationStream> stream;  // sampled requests, from admission
  // Beam search (num_beams > 1), one step per iteration; holds num_beams - 1 slots besides
  // seq.slot, released (and seq.slot truncated to the prompt) when it is reset.
  std::unique_ptr<BeamSearchRun> beams;
  int64_t next_token = -1;   // sampled, to be fed by the next decode step
  bool newly_ready = false;  // the prompt phases finished this iteration
  bool done = false;         // OnDone called; leaves running_ at the next sweep

  absl::Time admitted;
  absl::Time first_token;
  double interaction_seconds = 0;
};

}  // namespace lmeye
