#include "client/eval_progress.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lmeye::client {
namespace {

constexpr int kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

}  // namespace

std::string FormatProgress(int done, int total, int failed, double elapsed_seconds, bool with_bar) {
  const double fraction = total > 0 ? static_cast<double>(done) / total : 1.0;
  const int percent = static_cast<int>(std::floor(100 * fraction));
  const double rate = elapsed_seconds > 0 ? done / elapsed_seconds : 0;
  std::string out;
  if (with_bar) {
    const int filled = static_cast<int>(std::floor(kBarWidth * fraction));
    std::string bar(filled, '=');
    if (filled < kBarWidth) bar += done > 0 ? ">" : " ";
    bar.resize(kBarWidth, ' ');
    const int width = static_cast<int>(absl::StrCat(total).size());
    out =
        absl::StrFormat("[%s] %*d/%d %3d%%  %.1f items/s", bar, width, done, total, percent, rate);
  } else {
    out = absl::StrFormat("%d/%d items (%d%%), %.1f items/s", done, total, percent, rate);
  }
  const char* sep = with_bar ? "  " : ", ";
  if (done < total && rate > 0) absl::StrAppend(&out, sep, "ETA ", Duration((total - done) / rate));
  if (failed > 0) absl::StrAppend(&out, sep, "failed ", failed);
  return out;
}

EvalProgress::EvalProgress(int total, std::ostream* out, bool terminal)
    : total_(total), out_(out), terminal_(terminal) {}

void EvalProgress::Add(bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  if (failed) ++failed_;
  Draw(/*final_draw=*/false);
}

void EvalProgress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  Draw(/*final_draw=*/true);
}

void EvalProgress::Draw(bool final_draw) {
  if (out_ == nullptr) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (terminal_) {
    if (!final_draw && now - last_draw_ < kRedrawInterval) return;
    last_draw_ = now;
    // \x1b[K clears what a longer previous line left behind.
    *out_ << "\r" << FormatProgress(done_, total_, failed_, elapsed, true) << "\x1b[K"
          << (final_draw ? "\n" : "") << std::flush;
    return;
  }
  // Plain: a line when a tenth of the run is crossed, and a last one unless it would repeat.
  const bool tenth_crossed =
      static_cast<int64_t>(done_) * 10 >= static_cast<int64_t>(next_tenth_) * total_;
  if (!(final_draw ? done_ != printed_done_ : tenth_crossed)) return;
  while (next_tenth_ <= 10 &&
         static_cast<int64_t>(done_) * 10 >= static_cast<int64_t>(next_tenth_) * total_) {
    ++next_tenth_;
  }
  printed_done_ = done_;
  *out_ << "eval: " << FormatProgress(done_, total_, failed_, elapsed, false) << "\n" << std::flush;
}

}  // namespace lmeye::client
