// Greedy choice over a batch of logits on the CPU, in one pass over each row where it lies.
//
// The scheduler's decode step ends with every running request's row of logits ([B, V], the
// model's dtype). Converting them to float32 with ATen and scanning each row for its maximum
// and its logsumexp cost 2.3-4 ms per step at batch 32 with a 50k vocabulary (bf16): 5-8% of an
// OPT-125m decode step on this 2-core host. This reads the rows in place (bf16, fp16 or fp32),
// rows split among the intra-op threads: 0.29 ms on 2 threads, 0.58 ms on one.
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/generate/sampler.h"

namespace lmeye {

// Per row b of `logits` ([B, V], CPU, float32/bfloat16/float16, rows contiguous): the index of
// its largest value (the first among ties; NaN never wins, as in Sampler) and that value's log
// softmax, x[i] - logsumexp(x), in float32 arithmetic (within a few 1e-7 of ATen's).
// INVALID_ARGUMENT for another shape, device or dtype; INTERNAL for a row without a finite
// maximum.
absl::StatusOr<std::vector<SampledToken>> GreedyRows(const at::Tensor& logits);

// Whether GreedyRows takes `logits` (the cases it does not refuse with INVALID_ARGUMENT).
bool GreedyRowsSupported(const at::Tensor& logits);

}  // namespace lmeye
