// `lmeye train --stage clip`: contrastive training of both CLIP towers of an LMEye model on
// image-caption pairs (CLIP's objective; Radford et al. 2021), for users who build a small
// domain model and for the project's demo model. The LLM and the adapter are not loaded: the
// output links to them unchanged.
//
// Per micro-batch of B pairs: u = normalize(visual_projection(pooler_output(image))),
// t = normalize(text_projection(pooled text)), logits = exp(logit_scale) * u t^T ([B, B]),
// loss = (CE(logits, targets) + CE(logits^T, targets^T)) / 2 per pair, summed. Caption lines
// may carry "negatives" (manifest.h): captions that do not describe their image, e.g. with two
// objects' colours swapped. They join the image->text side as extra columns that are never
// right (NegCLIP, Yuksekgonul et al. 2023): random in-batch captions rarely differ from the
// right one in which attribute belongs to which object, so without them the towers learn a bag
// of words and the pooled image vector does not bind a colour to its shape. Targets are the
// diagonal, except that pairs whose captions are identical (common in synthetic data: "a red
// circle.") are all correct for each other: each row's target is uniform over them, so the loss
// never pushes apart an image and a caption that describes it. logit_scale is clamped to
// ln(100) after every step, as CLIP does. In-batch negatives make the loss a function of the
// micro-batch: with grad_accum or several processes the negatives come from each micro-batch
// (CLIP gathers features across ranks instead; not done here), so batch_size is what matters.
//
// Labels: caption lines may also carry "labels" (manifest.h), short texts each true of the image
// ("a large red circle", one per object), the line's whole set of them. With label_weight > 0
// each micro-batch adds a sigmoid loss over the distinct labels of its B lines (SigLIP's loss,
// Zhai et al. 2023, over labels instead of captions): for image i and label l, z = exp(s) *
// u_i . t_l + b, target 1 when l is one of i's labels and 0 otherwise, label_weight times
// softplus(-z) or softplus(z), summed over the labels, per pair. Why: a caption of four objects
// is matched as a whole, so the towers learn which object has which colour only as far as the
// hard negatives force it; a label's score is linear in the pooled image vector, which is
// what the IPN's linear `decompose` reads. In a PyTorch copy of this stage (750 steps of 128
// shapes scenes), a probe linear in h_I answered held-out "what colour is the X" / "what shape
// is the Y" / "what size ..." at 61.4% with labels (label_weight 0.5) against 54.7% without,
// at the same step time (the labels are 60 short texts). s starts at ln 10 (SigLIP) and b at
// the log-odds of a label being true of an image in the training set (mean labels per line
// over distinct labels); both train, are checkpointed, and are not part of the written CLIP.
//
// Text side: the tokenizer of the CLIP directory when it has one, else the LLM's. Each caption
// is its token ids followed by the EOS word the text config pools at (ClipTextConfig: for the
// legacy eos_token_id 2, the highest id, vocab_size - 1, which the caption ids must stay below
// so that transformers' argmax pooling finds it), truncated to max_position_embeddings.
//
// Images are decoded and preprocessed once into memory (float32 [N, 3, S, S]: 48 KB per image
// at S = 64, 600 KB at 224). Every tensor of both towers and logit_scale train; the output
// directory gets the CLIPModel written in Hugging Face layout (output_dir.h).
//
// Evaluation (eval_data, a caption manifest): the mean loss per pair and the image->text
// retrieval top-1 accuracy within each eval micro-batch, among its captions and their negatives
// (a caption identical to the right one counts as right).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "model/ipn/adapter_config.h"
#include "model/ipn/model_dir.h"
#include "model/text/clip_text.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/train_objective.h"
#include "model/vision/clip_vision.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {

class ClipObjective : public TrainObjective {
 public:
  static absl::StatusOr<std::unique_ptr<ClipObjective>> Create(const TrainConfig& config,
                                                               std::ostream* log);

  int64_t n_examples() const override { return train_.n(); }
  int64_t n_targets(int64_t) const override { return 1; }
  const NamedTensors& trained() const override { return trained_; }
  NamedTensors checkpoint_tensors() const override { return trained_; }
  absl::StatusOr<at::Tensor> LossSum(absl::Span<const int64_t> examples) override;
  bool has_eval() const override { return eval_.n() > 0; }
  absl::StatusOr<EvalSums> EvaluateShard(int rank, int world, int batch_size) override;
  std::string accuracy_name() const override { return "retrieval_top1"; }
  absl::Status WriteOutputs(std::ostream* log) override;

  // Image-caption pairs, ready for the towers.
  struct PairSet {
    // [N, 3, S, S] on the CPU: float32, or bfloat16 for a training set under bf16 autocast,
    // which rounds the patch conv's input to bf16 anyway: the same weights at half the memory
    // (30 steps gave byte-identical towers; 144000 images held 14.8 GB resident in float32).
    at::Tensor pixels;
    std::vector<std::vector<int>> text;  // ids, EOS word last
    std::vector<std::vector<std::vector<int>>> negatives;  // per pair, same form
    std::vector<int> caption_class;      // equal for identical captions
    std::vector<std::vector<int>> labels;  // per pair: indexes into label_text, sorted
    std::vector<std::vector<int>> label_text;  // distinct labels' ids, EOS word last
    int64_t n() const { return static_cast<int64_t>(text.size()); }
  };

 private:
  explicit ClipObjective(const TrainConfig& config) : config_(config) {}
  absl::Status Init(std::ostream* log);
  // One image file as the vision tower's input, [3, S, S] of `pixel_dtype`.
  absl::StatusOr<at::Tensor> DecodePixels(const std::string& path,
                                          at::ScalarType pixel_dtype) const;
  // `pixel_dtype`: PairSet::pixels' dtype.
  absl::Status LoadPairs(const std::string& path, at::ScalarType pixel_dtype, PairSet* set,
                         std::ostream* log);
  // `text` as the text tower reads it: token ids below the EOS word, cut to leave room for it,
  // then the EOS word. InvalidArgument when the tokenizer gives an id the tower cannot pool.
  absl::StatusOr<std::vector<int>> TextIds(const std::string& text) const;
  // Adds the label loss's scale and bias to the trained tensors when the training pairs carry
  // labels and label_weight > 0.
  absl::Status InitLabelHead(std::ostream* log);
  // Summed label loss of `rows` of `set` ([B] per pair) given the images' embeddings `u`
  // (normalised, float32) and the labels' texts' `t` (normalised, float32, one row per entry
  // of `label_ids`, the distinct labels of the rows).
  at::Tensor LabelLoss(const PairSet& set, const std::vector<int64_t>& rows,
                       const std::vector<int>& label_ids, const at::Tensor& u,
                       const at::Tensor& t) const;
  // Summed loss of `rows` of `set`, and (when `correct` is non-null) the number of rows whose
  // best-scoring caption is a right one.
  absl::StatusOr<at::Tensor> PairLoss(const PairSet& set, const std::vector<int64_t>& rows,
                                      int64_t* correct);

  TrainConfig config_;
  IpnAdapterConfig adapter_config_;
  std::string clip_dir_;  // the CLIP directory read (resolved)
  std::unique_ptr<ClipVisionTower> vision_;
  std::unique_ptr<ClipTextTower> text_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ClipImagePreprocessor> preprocessor_;
  at::Tensor logit_scale_;  // [] float32, trained
  // The label loss's scale and bias ([] float32, trained; undefined without labels).
  at::Tensor label_scale_;
  at::Tensor label_bias_;
  at::Device device_ = at::kCPU;
  PairSet train_;
  PairSet eval_;
  NamedTensors trained_;
};

}  // namespace lmeye
