// The training loop behind `lmeye train`, shared by every stage: what a stage trains and its
// loss come from a TrainObjective (train_objective.h: the IPN stages align and instruct, the
// backbone stages clip and lm); the loop owns the data order, accumulation, the all-reduce,
// clipping, AdamW and its schedule, checkpoints, evaluation, logging and stopping.
//
// Create() validates the config, builds the stage's objective (which loads the model and data),
// builds AdamW over the objective's trained tensors and, with `resume`, restores
// output_dir/checkpoint.safetensors when it exists (a fresh start otherwise, so a restarted job
// can always pass --resume).
//
// The data order: epoch e visits the examples in a permutation drawn from (seed, e); optimizer
// step s takes the global examples s*G .. s*G+G-1 of that endless sequence, G = batch_size *
// grad_accum * world_size, as grad_accum micro-batches. The loss of a step is the mean loss over
// all its targets (the sum of each micro-batch's loss divided by the step's target count), so
// accumulation gives the gradient of one big batch. Then clipping, AdamW at the scheduled lr.
//
// Outputs in output_dir: checkpoint.safetensors (every checkpoint_every steps, on Stop, at the
// end; see train_checkpoint.h), train_log.jsonl (one JSON object per logged step, appended),
// and at the end the objective's outputs: a servable LMEye model directory.
//
// Data parallel (distributed.h): with a group of W processes, every rank holds a replica and
// computes micro-batch m of step s from global examples s*G + (m*W + rank)*B .. +B; gradients,
// the loss and the stop flag are summed over ranks once per step, so W processes with batch B
// give the result of one process with batch W*B (for losses that are sums over examples). Only
// rank 0 logs and writes files; every rank reads the checkpoint on resume (output_dir must be
// shared).
//
// Threads: one thread drives a Trainer; RequestStop() may be called from any thread (or a
// signal handler: it only stores an atomic flag).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/train/adamw.h"
#include "model/train/distributed.h"
#include "model/train/lr_schedule.h"
#include "model/train/train_config.h"
#include "model/train/train_objective.h"

namespace lmeye {

struct TrainStepStats {
  int64_t step = 0;  // optimizer steps done, this one included
  int64_t total_steps = 0;
  double epoch = 0;  // examples consumed / examples in the data
  double loss = 0;   // mean NLL per target token of this step
  double lr = 0;
  double grad_norm = 0;  // before clipping
  double step_seconds = 0;
  double samples_per_second = 0;
  double eta_seconds = 0;
};

class Trainer {
 public:
  // `log`: where progress and data issues go (stderr in `lmeye train`); null: silent.
  // `group`: the data-parallel group (must outlive the trainer); null: one process.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainConfig& config,
                                                         std::ostream* log = nullptr,
                                                         DataParallelGroup* group = nullptr);

  // Steps until total_steps() or a stop request, logging every log_every steps, evaluating
  // every eval_every steps, checkpointing every checkpoint_every steps. At the end (not on a
  // stop) also evaluates and writes the final adapter (Finish). A stop writes a checkpoint
  // and returns OK with stopped() true. With a group, the ranks agree on the stop at the end of
  // a step (any rank's request stops all after that step).
  absl::Status Run();
  // One optimizer step.
  absl::StatusOr<TrainStepStats> Step();
  absl::Status SaveCheckpoint();
  // Writes the objective's outputs into output_dir (a servable model directory).
  absl::Status Finish();
  // Over the eval manifest (NoGrad): the mean loss per target and the stage's accuracy, if it
  // has one. FailedPrecondition without eval data.
  absl::StatusOr<EvalResult> Evaluate();

  // A terminal: a progress bar (loss, lr, step time, ETA) redrawn after every step, between
  // the plain lines of logged steps. Off by default (plain lines only, e.g. into a file).
  void set_progress_bar(bool on) { progress_bar_ = on; }

  void RequestStop() { stop_.store(true); }
  bool stopped() const { return stopped_; }

  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t global_batch() const;
  const TrainConfig& config() const { return config_; }
  TrainObjective& objective() { return *objective_; }
  // The trained parameters (for the IPN stages "ipn.<name>").
  const NamedTensors& trained() const { return objective_->trained(); }

 private:
  Trainer(const TrainConfig& config, std::ostream* log, DataParallelGroup* group)
      : config_(config), log_(log), group_(group) {}
  bool writer() const { return group_ == nullptr || group_->rank() == 0; }
  absl::Status Init();
  // The example at global position `k` of the data order.
  int64_t ExampleAt(int64_t k);
  void Log(const std::string& line);
  // `eval` null: no evaluation this step.
  void LogStep(const TrainStepStats& stats, const EvalResult* eval);
  void DrawProgressBar(const TrainStepStats& stats);

  TrainConfig config_;
  std::ostream* log_;
  DataParallelGroup* group_;
  std::unique_ptr<TrainObjective> objective_;
  std::unique_ptr<AdamW> optimizer_;
  LrSchedule schedule_;
  int64_t step_ = 0;
  int64_t samples_ = 0;
  int64_t total_steps_ = 0;
  double seconds_ = 0;  // spent in Step() by this process (for the ETA)
  int64_t timed_steps_ = 0;
  int64_t perm_epoch_ = -1;  // epoch of perm_
  std::vector<int> perm_;
  std::atomic<bool> stop_{false};
  bool stop_agreed_ = false;  // some rank asked to stop before the last step's all-reduce
  bool stopped_ = false;
  bool progress_bar_ = false;
  bool bar_shown_ = false;  // the last thing on the log's line is the bar
};

}  // namespace lmeye
