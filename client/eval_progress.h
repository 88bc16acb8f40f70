// The eval command's progress display. On a terminal, one line redrawn in place (a bar, items/s,
// ETA, failures); otherwise (a log file, CI) a plain line at every tenth of the run, so logs stay
// readable. Any thread may call Add; drawing happens under a lock, at most 10 times a second.
#pragma once

#include <chrono>
#include <mutex>
#include <ostream>
#include <string>

namespace lmeye::client {

// "[=========>          ]  45/100  45%  3.2 items/s  ETA 0:17  failed 2" (with_bar), or
// "45/100 items (45%), 3.2 items/s, ETA 0:17, failed 2" without. "failed" only when non-zero;
// the ETA only while items remain and the rate is known.
std::string FormatProgress(int done, int total, int failed, double elapsed_seconds, bool with_bar);

class EvalProgress {
 public:
  // `out` may be null: nothing is shown. `terminal`: redraw in place.
  EvalProgress(int total, std::ostream* out, bool terminal);

  // One item finished (`failed`: without an answer). Thread-safe.
  void Add(bool failed);
  // The last state, ended with a newline. Call once, after every Add.
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(bool final_draw);  // under mu_

  const int total_;
  std::ostream* const out_;
  const bool terminal_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  int done_ = 0;
  int failed_ = 0;
  int next_tenth_ = 1;     // plain mode: the next tenth of total_ that prints a line
  int printed_done_ = -1;  // plain mode: done_ when the last line was printed
  Clock::time_point last_draw_{};
};

}  // namespace lmeye::client
