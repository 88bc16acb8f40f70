// Stop strings matched on the streamed TEXT, not on token ids: "\n\nHuman:" ends generation
// whether the model spelled it as one token or five, and wherever token boundaries fall.
//
// Fed the text deltas of an IncrementalDecoder (complete UTF-8), it returns what is safe to
// stream now. It holds back the longest suffix that could still grow into a stop string, so a
// stop string is never half-sent; once one appears, the text before it is released, the stop
// string and everything after it are dropped (vLLM's default), and stopped() turns true.
// Held-back text always starts at a character boundary (stop strings are valid UTF-8).
//
// Cost per Push: O(total stop bytes x held bytes) worst case, bounded by the limits in
// SamplingParams. Not thread-safe: one per stream.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace lmeye {

class StopMatcher {
 public:
  // Empty strings are ignored (SamplingParams::Validate rejects them).
  explicit StopMatcher(std::vector<std::string> stop_strings);

  // Appends `delta`; returns the text that can be streamed now ("" after stopped()).
  std::string Push(absl::string_view delta);
  // End of generation without a stop: the held-back text, released.
  std::string Flush();

  bool stopped() const { return matched_ >= 0; }
  // The stop string found; "" when none.
  absl::string_view matched() const {
    return matched_ >= 0 ? absl::string_view(stops_[matched_]) : absl::string_view();
  }
  size_t held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  int matched_ = -1;
};

}  // namespace lmeye
