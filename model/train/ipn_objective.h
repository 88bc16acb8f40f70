// The IPN stages of `lmeye train` (align, instruct): the adapter of an LMEye model trains, the
// CLIP towers and the LLM stay frozen (docs/DESIGN.md section 2, "Training"; losses in
// stage_loss.h). The adapter is the one adapter.json names: this project's IPN, or the released
// LingCloud v0 layout (docs/LINGCLOUD.md), whose phases are the same two stages (align = its
// phase 1, instruct = its phase 2) over its own prompts; its checkpoint tensors and output keep
// the release's names.
//
// Create() loads the model (float32) and its tokenizer; reads the manifest and tokenizes it for
// the stage (train_data.h); encodes every image once with the frozen vision tower (in memory,
// or read from / added to the feature_cache file, in shards across the ranks of a group, see
// feature_cache.h); fails if the skipped lines exceed max_skip_fraction; sets requires_grad on
// exactly the parameters the stage trains (nothing else in the process requires grad: the
// backbones' weights never get a .grad) and optionally re-initialises them.
//
// Output: adapter.safetensors + adapter.json with links to the backbone directories, so the
// output directory is itself a model directory that `lmeye serve --model` loads.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/ipn/lmeye_model.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/train_data.h"
#include "model/train/train_objective.h"

namespace lmeye {

// The names (as in the adapter file, "ipn.align.weight") of the parameters `stage` trains.
std::vector<std::string> StageParameterNames(TrainStage stage);
// The same for an adapter layout: the released v0's names as its release stores them
// (align = its phase 1: embedding_img, imgLinear; instruct = phase 2: embedding_imgd,
// promptMlp, llm2clip, imgdLinear).
std::vector<std::string> StageParameterNames(AdapterLayout layout, TrainStage stage);

class IpnObjective : public TrainObjective {
 public:
  static absl::StatusOr<std::unique_ptr<IpnObjective>> Create(const TrainConfig& config,
                                                              std::ostream* log,
                                                              DataParallelGroup* group);

  int64_t n_examples() const override { return static_cast<int64_t>(data_.examples.size()); }
  int64_t n_targets(int64_t example) const override {
    return static_cast<int64_t>(data_.examples[example].target.size());
  }
  int64_t n_positions(int64_t example) const override {
    return data_.examples[example].n_positions();
  }
  const NamedTensors& trained() const override { return trained_; }
  // The whole adapter ("ipn.*"), trained and frozen parts.
  NamedTensors checkpoint_tensors() const override;
  absl::StatusOr<at::Tensor> LossSum(absl::Span<const int64_t> examples) override;
  bool has_eval() const override { return !eval_data_.examples.empty(); }
  absl::StatusOr<EvalSums> EvaluateShard(int rank, int world, int batch_size) override;
  std::string accuracy_name() const override;
  absl::Status WriteOutputs(std::ostream* log) override;

  LmeyeModel& model() { return *model_; }
  const ExampleSet& data() const { return data_; }
  // h_I of data().images: [n_images, d_v] float32.
  const at::Tensor& features() const { return features_; }

 private:
  explicit IpnObjective(const TrainConfig& config) : config_(config) {}
  absl::Status Init(std::ostream* log, DataParallelGroup* group);
  // Marks the stage's parameters of the layout trainable (and loads / re-initialises them).
  absl::Status InitLmeyeAdapter();
  absl::Status InitLingcloudV0(std::ostream* log);
  absl::Status LoadAllData(std::ostream* log, DataParallelGroup* group);

  TrainConfig config_;
  std::unique_ptr<LmeyeModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ExampleSet data_;
  at::Tensor features_;  // [n_images, d_v] float32
  ExampleSet eval_data_;
  at::Tensor eval_features_;
  NamedTensors trained_;
};

}  // namespace lmeye
