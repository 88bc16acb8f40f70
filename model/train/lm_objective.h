// `lmeye train --stage lm`: next-token training of an LMEye model's LLM on text (a small causal
// LM from scratch, starting from the random weights `lmeye init-model` writes, or continued
// pretraining of a checkpoint). The CLIP towers and the adapter are not loaded: the output links
// to them unchanged.
//
// Each document (text_manifest.h) is tokenized as the family's tokenizer does for a prompt
// (BOS where the family adds one), followed by EOS, and cut at max_tokens; its targets are
// every token after the first, so n_targets = length - 1 and a batch's loss is the summed NLL
// of all of them (right padding, masked). No packing: documents are short here (captions,
// answers), and packing would let a document attend to the one before it.
//
// Trained tensors: every LLM weight. Where our decoder computes several checkpoint tensors from
// one fused storage (q/k/v, gate/up: llm_modules.h), the storage is the trained leaf and
// carries the names of its parts joined by '|' in checkpoints; the output is written with the
// Hugging Face names (output_dir.h), in save_dtype.
//
// Evaluation (eval_data, a text manifest): the mean NLL per token (perplexity = exp(loss)).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/llm/llm_model.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/train_objective.h"

namespace lmeye {

class LmObjective : public TrainObjective {
 public:
  static absl::StatusOr<std::unique_ptr<LmObjective>> Create(const TrainConfig& config,
                                                             std::ostream* log);

  int64_t n_examples() const override { return static_cast<int64_t>(train_.size()); }
  int64_t n_targets(int64_t example) const override {
    return static_cast<int64_t>(train_[example].size()) - 1;
  }
  int64_t n_positions(int64_t example) const override {
    return static_cast<int64_t>(train_[example].size());
  }
  const NamedTensors& trained() const override { return trained_; }
  NamedTensors checkpoint_tensors() const override { return trained_; }
  absl::StatusOr<at::Tensor> LossSum(absl::Span<const int64_t> examples) override;
  bool has_eval() const override { return !eval_.empty(); }
  absl::StatusOr<EvalSums> EvaluateShard(int rank, int world, int batch_size) override;
  absl::Status WriteOutputs(std::ostream* log) override;

  const LlmModel& llm() const { return *llm_; }

 private:
  explicit LmObjective(const TrainConfig& config) : config_(config) {}
  absl::Status Init(std::ostream* log);
  absl::Status LoadDocuments(const std::string& path, std::vector<std::vector<int>>* out,
                             std::ostream* log);
  // Summed NLL of the documents `rows` of `docs`.
  absl::StatusOr<at::Tensor> NllSum(const std::vector<std::vector<int>>& docs,
                                    const std::vector<int64_t>& rows);

  TrainConfig config_;
  IpnAdapterConfig adapter_config_;
  std::string llm_dir_;  // resolved
  std::unique_ptr<LlmModel> llm_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<std::vector<int>> train_;  // token ids per document, >= 2 each
  std::vector<std::vector<int>> eval_;
  NamedTensors trained_;
};

}  // namespace lmeye
