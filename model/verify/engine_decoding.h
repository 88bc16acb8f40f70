// Greedy and beam decoding through an IpnEngine as the scheduler runs them (DecodeStep between
// greedy tokens, a BeamSearchRun stepped to its end), for the recomputers that check the serving
// path of a model against its goldens.
#pragma once

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/generate/beam_search.h"
#include "model/ipn/engine.h"

namespace lmeye {

struct GreedyDecoding {
  at::Tensor ids;          // [steps] int64
  at::Tensor step_logits;  // [steps, V] float32: the logits each token was chosen from
};

// `steps` greedy tokens from a kReady sequence of `engine`; releases its slot.
absl::StatusOr<GreedyDecoding> GreedyFromEngine(IpnEngine& engine, IpnSequence& seq, int steps);

// Beam search from a kReady sequence to its end: the best hypothesis' ids [<= max_new_tokens];
// releases the sequence's slot.
absl::StatusOr<at::Tensor> BeamFromEngine(IpnEngine& engine, IpnSequence& seq,
                                          const BeamSearchParams& params);

}  // namespace lmeye
