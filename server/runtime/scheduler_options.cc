#include "server/runtime/scheduler_options.h"

#include "absl/strings/str_cat.h"

namespace lmeye {
namespace {

absl::Status AtLeast(const char* field, int64_t value, int64_t min) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("scheduler.", field, " must be at least ", min, ", got ", value));
}

}  // namespace

absl::Status SchedulerOptions::Validate() const {
  for (absl::Status s : {AtLeast("max_running", max_running, 1),
                         AtLeast("max_batched_tokens", max_batched_tokens, 1),
                         AtLeast("kv_capacity_tokens", kv_capacity_tokens, 0),
                         AtLeast("max_sequence_positions", max_sequence_positions, 2),
                         AtLeast("max_queue", max_queue, 1),
                         AtLeast("image_decode_threads", image_decode_threads, 1),
                         AtLeast("prefix_cache_entries", prefix_cache_entries, 0)}) {
    if (!s.ok()) return s;
  }
  const int64_t cache = int64_t{max_running} * max_sequence_positions;
  if (kv_capacity_tokens > cache) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheduler.kv_capacity_tokens (", kv_capacity_tokens,
                     ") exceeds max_running * ", "max_sequence_positions (", max_running, " * ",
                     max_sequence_positions, " = ", cache, "), the KV cache allocated"));
  }
  return absl::OkStatus();
}

}  // namespace lmeye
