// The configuration of `lmeye train`: one flat typed struct, loaded from a YAML file (yaml-cpp)
// and overridden by `--key value` flags that use the same key names.
//
// Contracts:
// - Every key is known: an unknown key (a typo) is an error naming it (with its line in YAML).
// - A value of the wrong type is an error naming the key ("lr: expected a number, got \"x\"").
// - Validate() names the first key whose value is missing or out of range.
// - Relative paths in the file (model, data, eval_data, adapter, output_dir, feature_cache) are
// relative to the
//   file's directory; relative paths given as flags are relative to the working directory.
// Loading does no I/O besides reading the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

// docs/DESIGN.md section 2, "Training". The IPN stages keep the CLIP towers and the LLM frozen; the
// backbone stages train one backbone (from the random weights `lmeye init-model` writes, or from
// a checkpoint) and leave everything else as it is.
enum class TrainStage {
  kAlign,     // phase 1: [E[P], h_img, caption], trains ipn.img_token and ipn.align
  kInstruct,  // phase 2: the two-pass graph, trains ipn.imgd_token/request/decompose/transmit
  kClip,      // both CLIP towers + logit_scale, contrastive on image-caption pairs
  kLm,        // the LLM, next-token prediction on text
};

const char* TrainStageName(TrainStage stage);  // "align" | "instruct" | "clip" | "lm"
// "align" | "instruct" | "clip" | "lm"; InvalidArgument naming the choices otherwise.
absl::StatusOr<TrainStage> ParseTrainStage(const std::string& name);
// The IPN stages (align, instruct) as opposed to the backbone stages (clip, lm).
inline bool IsIpnStage(TrainStage stage) {
  return stage == TrainStage::kAlign || stage == TrainStage::kInstruct;
}

struct TrainConfig {
  // Required.
  std::string model;  // LMEye model directory (adapter.json, backbones, adapter weights)
  TrainStage stage = TrainStage::kAlign;
  // JSONL manifest: captions / conversations (model/train/manifest.h) for align, instruct and
  // clip (captions); text lines for lm (model/train/text_manifest.h).
  std::string data;
  // Checkpoint, log, and at the end a servable LMEye model directory: the trained adapter, or
  // the trained backbone written in Hugging Face layout with links to the untouched parts.
  std::string output_dir;

  // Starting adapter: `adapter` (a safetensors file) or the model's adapter.safetensors. With
  // `reinit` the parameters this stage trains are re-initialised from `seed` (the frozen ones,
  // e.g. phase 1's in the instruct stage, are kept as loaded). IPN stages only: the backbone
  // stages start from the model's backbone (`lmeye init-model` writes random ones).
  std::string adapter;
  bool reinit = false;
  // Backbone stages: the dtype of the written weights ("fp32", "bf16", "fp16"); training
  // itself is float32.
  std::string save_dtype = "fp32";

  // Optimisation. One optimizer step consumes batch_size * grad_accum * world_size examples.
  int batch_size = 8;     // examples per micro-batch, per process
  int grad_accum = 1;     // micro-batches per optimizer step
  int64_t max_steps = 0;  // optimizer steps; 0: `epochs` passes over the data
  double epochs = 1.0;
  double lr = 1e-4;
  double weight_decay = 0.01;  // decoupled (AdamW); Linear weights only, not biases or tokens
  double beta1 = 0.9;
  double beta2 = 0.999;
  double adam_eps = 1e-8;
  int64_t warmup_steps = 0;    // linear warmup from lr / warmup_steps to lr
  double min_lr_ratio = 0.0;   // cosine decays to lr * min_lr_ratio at max_steps
  double max_grad_norm = 1.0;  // global L2 clipping; 0: off
  uint64_t seed = 0;           // shuffling (each epoch its own permutation) and reinit

  // Data.
  int max_tokens = 512;  // LLM positions of one example (prompt + image + slot + target)
  // Examples the manifest loses to malformed lines, unreadable images or over-long prompts,
  // as a fraction of its lines: more than this is fatal (before training starts).
  double max_skip_fraction = 0.05;
  // Batches of examples of about the same length (data_order.h): far less padding where
  // lengths differ (short answers beside long matching questions), the same examples per epoch.
  bool group_by_length = false;
  // The clip stage's weight on its label loss (clip_objective.h), for caption lines that carry
  // "labels"; 0: labels are read and ignored.
  double label_weight = 1.0;
  // Held-out manifest: mean loss every eval_every steps and at the end, and in the instruct
  // stage the exact-match accuracy of greedy answers for examples whose answer is at most
  // qa_max_answer_tokens tokens (0: no accuracy). Empty: no evaluation.
  std::string eval_data;
  int64_t eval_every = 0;
  int qa_max_answer_tokens = 8;
  // Frozen CLIP features precomputed on disk (feature_cache.h), shared by runs, stages and the
  // eval manifest; empty: computed in memory at every start.
  std::string feature_cache;

  // Checkpoints and logging.
  int64_t checkpoint_every = 0;  // optimizer steps between checkpoints; 0: only at the end
  int64_t log_every = 1;
  bool resume = false;  // continue from output_dir/checkpoint.safetensors
  int threads = 0;      // intra-op threads; 0: every core
  // "cpu", "cuda", "cuda:N" (a CUDA build of libtorch): where the model and the adapter live.
  // Parameters, gradients and optimizer state stay float32.
  std::string device = "cpu";
  // Mixed precision of the training forward and backward: "off", "bf16" (matmuls in bfloat16
  // under libtorch's autocast: AMX through oneDNN on CPUs that have it, tensor cores on GPUs),
  // "fp16" (CUDA only). Parameters, gradients and optimizer state stay float32; evaluation runs
  // in float32.
  std::string autocast = "off";
  // Data parallel backend (distributed.h): "auto" (NCCL for a CUDA device where built, else
  // Gloo), "gloo" or "nccl". A group is formed when WORLD_SIZE > 1, or when a backend is named:
  // then even one process joins a group of one, which checks the backend on a single device.
  std::string dist_backend = "auto";

  // The first key that is missing or out of range, as INVALID_ARGUMENT naming it.
  absl::Status Validate() const;
};

// The keys, in the order of the struct (for --help and a docs test).
const std::vector<std::string>& TrainConfigKeys();

// Sets one key from its text form (a flag or a YAML scalar). `base_dir`: what relative paths are
// relative to ("" leaves them as given). InvalidArgument naming the key for unknown keys and
// values of the wrong type.
absl::Status SetTrainConfigValue(const std::string& key, const std::string& value,
                                 const std::string& base_dir, TrainConfig* config);

// Reads a YAML mapping of keys to scalars into `config` (fields not in the file keep their
// values). Errors name the file, key and line.
absl::Status LoadTrainConfigYaml(const std::string& path, TrainConfig* config);

}  // namespace lmeye
