#include "model/verify/engine_decoding.h"

#include <memory>
#include <vector>

#include "model/common/status_macros.h"

namespace lmeye {

absl::StatusOr<GreedyDecoding> GreedyFromEngine(IpnEngine& engine, IpnSequence& seq, int steps) {
  std::vector<int64_t> generated;
  std::vector<at::Tensor> step_logits;
  at::Tensor logits = seq.next_logits;
  absl::Status status;
  for (int step = 0; step < steps; ++step) {
    step_logits.push_back(logits);
    generated.push_back(logits.argmax().item<int64_t>());
    if (step + 1 == steps) break;
    absl::StatusOr<at::Tensor> next = engine.DecodeStep({seq.slot}, {generated.back()});
    if (!next.ok()) {
      status = next.status();
      break;
    }
    logits = (*next)[0];
  }
  engine.Release(seq);
  LMEYE_RETURN_IF_ERROR(status);
  return GreedyDecoding{at::tensor(generated, at::kLong), at::stack(step_logits)};
}

absl::StatusOr<at::Tensor> BeamFromEngine(IpnEngine& engine, IpnSequence& seq,
                                          const BeamSearchParams& params) {
  absl::StatusOr<at::Tensor> best = [&]() -> absl::StatusOr<at::Tensor> {
    LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<BeamSearchRun> run,
                           engine.StartBeamSearch(seq, params));
    bool done = false;
    while (!done) {
      LMEYE_ASSIGN_OR_RETURN(done, run->Step());
    }
    return at::tensor(run->Result().hypotheses.at(0).tokens, at::kLong);
  }();
  engine.Release(seq);  // after the run, which gives its extra slots back first
  return best;
}

}  // namespace lmeye
