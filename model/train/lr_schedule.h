// The learning-rate schedule of `lmeye train`: linear warmup, then cosine decay (the schedule of
// transformers' get_cosine_schedule_with_warmup, with a floor).
//
//   step s (0-based, the optimizer step about to be taken), peak lr, warmup W, total S:
//   s < W:   lr * (s + 1) / W
//   else:    lr * (r + (1 - r) * 0.5 * (1 + cos(pi * (s - W) / max(1, S - W))))
//            with r = min_lr_ratio; steps past S keep the floor lr * r.
// A pure function of the step, so a resumed run continues the same curve.
#pragma once

#include <cstdint>

namespace lmeye {

struct LrSchedule {
  double lr = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.0;

  double At(int64_t step) const;
};

}  // namespace lmeye
