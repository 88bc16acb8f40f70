// The IPN trainer behind `lmeye train`: one stage (align or instruct) of DESIGN.md section 2,
// "Training", on one LMEye model directory, with every backbone frozen.
//
// What Create() does, in order: load the model (float32) and its tokenizer; read the manifest
// and tokenize it for the stage (train_data.h); encode every image once with the frozen vision
// tower (in memory, or read from / added to the feature_cache file; in shards across the ranks
// of a group, see feature_cache.h); fail if the skipped lines exceed max_skip_fraction
// (each skip is logged as "manifest:line: why"); set requires_grad on exactly the parameters the
// stage trains (nothing else in the process requires grad: the backbones' weights never get a
// .grad); optionally re-initialise them; build AdamW; and with `resume` restore
// output_dir/checkpoint.safetensors when it exists (a fresh start otherwise, so a restarted job
// can always pass --resume).
//
// The data order: epoch e visits the examples in a permutation drawn from (seed, e); optimizer
// step s takes the global examples s*G .. s*G+G-1 of that endless sequence, G = batch_size *
// grad_accum * world_size, as grad_accum micro-batches. The loss of a step is the mean NLL over
// all its target tokens (the sum of each micro-batch's NLL divided by the step's target count),
// so accumulation gives the gradient of one big batch. Then clipping, AdamW at the scheduled lr.
//
// Outputs in output_dir: checkpoint.safetensors (every checkpoint_every steps, on Stop, at the
// end; see train_checkpoint.h), train_log.jsonl (one JSON object per logged step, appended),
// and at the end adapter.safetensors + adapter.json with links to the backbone directories: the
// output directory is itself a model directory that `lmeye serve --model` loads.
//
// Data parallel (distributed.h): with a group of W processes, every rank holds a replica and
// computes micro-batch m of step s from global examples s*G + (m*W + rank)*B .. +B; gradients,
// the loss and the stop flag are summed over ranks once per step, so W processes with batch B
// give the adapter of one process with batch W*B. Only rank 0 logs and writes files; every rank
// reads the checkpoint on resume (output_dir must be shared).
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
#include "model/ipn/lmeye_model.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/adamw.h"
#include "model/train/distributed.h"
#include "model/train/lr_schedule.h"
#include "model/train/train_config.h"
#include "model/train/train_data.h"

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

struct EvalResult {
  double loss = 0;  // mean NLL per target token
  int n_qa = 0;     // short-answer examples (instruct), see qa_eval.h
  double exact_match = 0;
};

// The names (as in the adapter file, "ipn.align.weight") of the parameters `stage` trains.
std::vector<std::string> StageParameterNames(TrainStage stage);

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
  // Writes adapter.safetensors, adapter.json and the backbone links into output_dir.
  absl::Status Finish();
  // Over the eval manifest (NoGrad): the mean NLL per target token and, in the instruct stage,
  // the exact-match accuracy of greedy short answers. FailedPrecondition without one.
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
  LmeyeModel& model() { return *model_; }
  const ExampleSet& data() const { return data_; }
  // h_I of data().images: [n_images, d_v] float32.
  const at::Tensor& features() const { return features_; }
  // The trained parameters, ("ipn.<name>", tensor).
  const NamedTensors& trained() const { return trained_; }

 private:
  Trainer(const TrainConfig& config, std::ostream* log, DataParallelGroup* group)
      : config_(config), log_(log), group_(group) {}
  bool writer() const { return group_ == nullptr || group_->rank() == 0; }
  absl::Status Init();
  // The example at global position `k` of the data order.
  const TrainExample* ExampleAt(int64_t k);
  void Log(const std::string& line);
  // `eval` null: no evaluation this step.
  void LogStep(const TrainStepStats& stats, const EvalResult* eval);
  void DrawProgressBar(const TrainStepStats& stats);

  TrainConfig config_;
  std::ostream* log_;
  DataParallelGroup* group_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ExampleSet data_;
  at::Tensor features_;  // [n_images, d_v] float32
  ExampleSet eval_data_;
  at::Tensor eval_features_;
  NamedTensors trained_;
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
