// The training checkpoint: one safetensors file holding everything a resumed run needs, written
// atomically (WriteSafetensors: temporary file, fsync, rename, directory fsync), so a crash or a
// kill at any moment leaves either the previous checkpoint or the new one, never a torn mix.
//
//   tensors   <name>                     the objective's checkpoint tensors, float32 (IPN
//                                        stages: the whole adapter "ipn.*"; backbone stages:
//                                        the trained backbone tensors)
//             "adamw.exp_avg.<name>"     AdamW first moments of the trained parameters
//             "adamw.exp_avg_sq.<name>"  second moments
//   metadata  format "lmeye-train-checkpoint", stage, step (optimizer steps done), samples
//             (examples consumed: the data position), global_batch, seed, n_examples
// The learning rate is a function of the step (lr_schedule.h) and the data order a function of
// (seed, epoch), so these fields restore the run exactly.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/train/adamw.h"
#include "model/train/train_config.h"

namespace lmeye {

struct TrainState {
  TrainStage stage = TrainStage::kAlign;
  int64_t step = 0;
  int64_t samples = 0;
  int64_t global_batch = 0;
  uint64_t seed = 0;
  int64_t n_examples = 0;
  bool group_by_length = false;  // absent in older checkpoints: false
};

absl::Status SaveTrainCheckpoint(const std::string& path, const NamedTensors& tensors,
                                 const AdamW& optimizer, const TrainState& state);

// Copies the saved values into `tensors` (in place, by name) and restores the optimizer's
// moments and step from `path`, and reads its state. InvalidArgument naming the file when it is
// not a training checkpoint or a tensor is missing or mis-shaped; the caller checks that the
// state matches its run.
absl::Status LoadTrainCheckpoint(const std::string& path, const NamedTensors& tensors,
                                 AdamW* optimizer, TrainState* state);

}  // namespace lmeye
