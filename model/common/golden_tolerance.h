// How a recomputed tensor is held to a reference ("golden") tensor. One rule for `lmeye verify`,
// every test suite and every fixture:
//   - integer tensors (token ids, indices): exact;
//   - floating-point tensors: max |actual - golden| <= relative * max(1, max |golden|), over the
//     compared positions, with relative = kGoldenRelativeTolerance unless a caller says otherwise.
// Relative, because float32 summed in another order (another BLAS kernel, another CPU's vector
// width, another batch shape) moves a result by a few units in the last place of its magnitude,
// not by a fixed amount: logits of magnitude ~20 differ by ~1e-5 between two correct CPUs, which
// an absolute 1e-5 bound would call a failure. The floor of 1 keeps tensors near zero (hidden
// states after a norm, biases) from demanding more than float32 can give.
#pragma once

#include <string>

#include <ATen/ATen.h>

namespace lmeye {

// float32 goldens of the shipped fixtures are met with about ten times this on every CPU seen so
// far (transformers' own padded-vs-unpadded runs differ by up to 4e-7 relative).
inline constexpr double kGoldenRelativeTolerance = 1e-5;

struct GoldenComparison {
  bool same_shape = true;
  bool exact = false;        // integer golden: compared for equality, bound 0
  bool finite = true;        // no NaN or infinity among the compared actual values
  double max_abs_diff = 0;   // over the compared positions
  double scale = 1;          // max(1, max |golden|) over the compared positions
  double bound = 0;          // relative * scale (0 when exact)
  int64_t n_mismatched = 0;  // exact: how many ids differ

  bool ok() const { return same_shape && finite && max_abs_diff <= bound; }
  // "max abs diff 1.2e-05 <= bound 2.0e-04 (1e-05 x scale 20)" and the like, for logs and tests.
  std::string Describe() const;
};

// Compares on the CPU in float64. `mask` (optional, bool or 0/1, broadcastable to `golden`)
// selects the positions compared: padding rows whose values mean nothing are left out of both
// the difference and the scale. Never throws on a shape mismatch: same_shape is false.
GoldenComparison CompareToGolden(const at::Tensor& actual, const at::Tensor& golden,
                                 const at::Tensor& mask = {},
                                 double relative = kGoldenRelativeTolerance);

}  // namespace lmeye
