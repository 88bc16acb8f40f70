// AdamW over named parameters, with its state as named tensors for checkpoints.
//
// Our own rather than torch::optim::AdamW so that the state is plain tensors that go into the
// training checkpoint's safetensors file next to the adapter (one atomic file, exact resume),
// instead of libtorch's pickled archive. The update is PyTorch's single-tensor AdamW (1.13):
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Weight decay applies to matrices (Linear weights) only, not to biases or the token vectors,
// as is usual for adapters.
//
// Not thread-safe; the trainer's thread owns it. Parameters are updated in place under
// NoGradGuard; a parameter without a gradient is skipped (as PyTorch does).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

struct AdamWOptions {
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class AdamW {
 public:
  // `params`: the trained parameters (name, tensor), float32. Moments start at zero.
  AdamW(NamedTensors params, AdamWOptions options);

  // One update at `lr` from each parameter's .grad.
  void Step(double lr);
  int64_t step() const { return step_; }

  // "adamw.exp_avg.<name>" and "adamw.exp_avg_sq.<name>" for every parameter.
  NamedTensors StateTensors() const;
  // Restores the step count and the moments; `lookup(name)` returns a state tensor by the names
  // StateTensors() gives. InvalidArgument naming the tensor when one is missing or mis-shaped.
  absl::Status LoadState(
      int64_t step, const std::function<absl::StatusOr<at::Tensor>(const std::string&)>& lookup);

 private:
  struct Slot {
    std::string name;
    at::Tensor param;
    at::Tensor exp_avg;     // same shape as param
    at::Tensor exp_avg_sq;  // same shape as param
    bool decay = false;
  };
  std::vector<Slot> slots_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

// Scales the gradients of `params` so that their global L2 norm is at most `max_norm` (as
// torch.nn.utils.clip_grad_norm_: factor max_norm / (norm + 1e-6) when below 1) and returns the
// norm before clipping. max_norm <= 0: only measures.
double ClipGradNorm(const NamedTensors& params, double max_norm);

}  // namespace lmeye
