// What one stage of `lmeye train` trains and how: the data, the trained parameters, the loss of
// a micro-batch, the evaluation, and what the stage leaves in output_dir. The Trainer
// (trainer.h) owns everything the stages share: the data order, accumulation, the all-reduce,
// clipping, AdamW and its schedule, checkpoints, logging and stopping.
//
//   align, instruct   IpnObjective (ipn_objective.h): the adapter, backbones frozen
//   clip              ClipObjective (clip_objective.h): both CLIP towers, contrastive
//   lm                LmObjective (lm_objective.h): the LLM, next-token prediction
//
// Contracts for implementations:
// - Examples are numbered 0..n_examples()-1; the trainer picks them (seeded shuffling), so an
//   objective never draws randomness of its own: a run is a function of the config.
// - LossSum runs in the caller's grad mode and returns a float32 scalar: the SUM over the
//   examples' targets (n_targets(i) each). The trainer divides by the targets of the whole
//   optimizer step, so accumulation and data parallelism give the gradient of one big batch
//   wherever the loss is a sum over examples (every stage but clip, whose in-batch negatives
//   make it a function of the micro-batch: see clip_objective.h).
// - trained() are leaf tensors, float32, requires_grad true, on the training device; nothing
//   else the objective holds requires grad (frozen parts never get a .grad).
// - checkpoint_tensors() is what a resumed run must get back besides the optimizer state (the
//   trained tensors at least), by stable names; LoadCheckpointTensor copies one in.
// - One thread uses an objective.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/train/adamw.h"  // NamedTensors
#include "model/train/distributed.h"
#include "model/train/train_config.h"

namespace lmeye {

// Additive over ranks and batches: the trainer all-reduces the fields, then divides.
struct EvalSums {
  double loss_sum = 0;   // summed loss over n_targets targets
  double n_targets = 0;
  double n_scored = 0;   // examples the accuracy counts (0: the stage has none)
  double n_correct = 0;
};

struct EvalResult {
  double loss = 0;  // mean loss per target
  // The stage's accuracy over n_scored examples: greedy short-answer exact match (instruct),
  // in-batch image->text retrieval top-1 (clip). Named by accuracy_name in logs.
  int n_scored = 0;
  double accuracy = 0;
  std::string accuracy_name;
};

class TrainObjective {
 public:
  virtual ~TrainObjective() = default;

  virtual int64_t n_examples() const = 0;
  virtual int64_t n_targets(int64_t example) const = 0;
  // What a batch holding the example pads to (its positions), for group_by_length.
  virtual int64_t n_positions(int64_t /*example*/) const { return 1; }
  virtual const NamedTensors& trained() const = 0;
  virtual NamedTensors checkpoint_tensors() const = 0;

  // Summed loss of the micro-batch `examples` (indices into the data).
  virtual absl::StatusOr<at::Tensor> LossSum(absl::Span<const int64_t> examples) = 0;

  virtual bool has_eval() const = 0;
  // Over examples rank, rank + world, ... of the eval manifest, in micro-batches of
  // `batch_size`, under NoGradGuard. FailedPrecondition without eval data.
  virtual absl::StatusOr<EvalSums> EvaluateShard(int rank, int world, int batch_size) = 0;
  virtual std::string accuracy_name() const { return ""; }

  // The final outputs in output_dir (rank 0 only): a servable LMEye model directory.
  virtual absl::Status WriteOutputs(std::ostream* log) = 0;
};

// Loads the model parts and data `config.stage` needs and marks exactly the stage's parameters
// trainable. `log` (may be null) gets data issues and cache lines; `group` (may be null) shards
// precomputation across ranks.
absl::StatusOr<std::unique_ptr<TrainObjective>> CreateTrainObjective(const TrainConfig& config,
                                                                     std::ostream* log,
                                                                     DataParallelGroup* group);

// Log lines for data problems: up to 20 issues then a count, and the skip fraction check
// (FailedPrecondition over max_skip_fraction). `issues` are (line, "path:line: why") pairs.
absl::Status ReportSkippedLines(const TrainConfig& config, const std::string& path, int n_lines,
                                const std::vector<std::pair<int, std::string>>& issues,
                                std::ostream* log);

// The micro-batches of one rank's share of an evaluation of `n` examples: examples rank,
// rank + world, ... (what EvaluateShard promises), `batch_size` at a time.
std::vector<std::vector<int64_t>> EvalShardBatches(int64_t n, int rank, int world, int batch_size);

// Writes "lmeye train: <line>" to `log` when non-null.
void LogTrainLine(std::ostream* log, const std::string& line);

}  // namespace lmeye
