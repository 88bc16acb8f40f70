// The budgets of one worker's scheduler (docs/DESIGN.md section 3), torch-free so that the config
// and the gRPC edge can carry them.
//
// The KV cache is max_running slots of max_sequence_positions positions each, allocated once.
// Admission reserves, per request, the KV slots and positions it may hold at its largest
// (prompt + max_new_tokens, times num_beams for beam search); a request waits until its
// reservation fits kv_capacity_tokens and max_running, and one that can never fit is refused
// at Submit with RESOURCE_EXHAUSTED.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace lmeye {

struct SchedulerOptions {
  // Sequences admitted at once (each holds one KV slot; a beam search holds num_beams).
  int max_running = 16;
  // LLM positions one batched first pass may compute. A longer prompt runs alone.
  int max_batched_tokens = 2048;
  // KV positions all admitted requests may reserve together. 0: max_running *
  // max_sequence_positions (the whole cache). At most that.
  int64_t kv_capacity_tokens = 0;
  // Positions one sequence may hold: prompt (image and slot included) + generated tokens.
  int max_sequence_positions = 1024;
  // Requests submitted and not yet admitted (image decoding included). Full: RESOURCE_EXHAUSTED.
  int max_queue = 256;
  // Threads decoding and CLIP-preprocessing images.
  int image_decode_threads = 2;
  // Finished requests whose KV prefix is kept for reuse (server/prefix_cache.h), in KV slots no
  // admitted request has reserved. 0: off.
  int prefix_cache_entries = 64;

  // The KV budget in positions after the 0 default is applied.
  int64_t kv_budget_tokens() const {
    return kv_capacity_tokens > 0 ? kv_capacity_tokens
                                  : int64_t{max_running} * max_sequence_positions;
  }

  // INVALID_ARGUMENT naming the field ("scheduler.max_running must be at least 1, got 0").
  absl::Status Validate() const;
};

}  // namespace lmeye
