// From manifest records to the tensors one training step consumes.
//
// Examples (token ids; docs/DESIGN.md section 2, "Training"):
//   align     LLM input [E[P], h_img, E[c_0..c_{n-2}]], targets c_0..c_{n-1} (the caption's ids
//             then EOS): the output at h_img predicts c_0, the output at c_i predicts c_{i+1}.
//   instruct  first pass [E[P], h_img, E[X], imgd], second pass [E[P], h_img, E[X], slot,
//             E[r_0..r_{n-2}]], targets r_0..r_{n-1} (the answer's ids then EOS) predicted from
//             the slot onwards. X is PromptBuilder::Chat of the turns before the answer (earlier
//             turns as plain text, as in serving), so a conversation with k answers gives k
//             examples; a caption record gives the Describe prompt with the caption as answer
//             (the paper's detailed-description data). Answers are tokenized as continuations
//             of "Assistant:" (PromptBuilder::EncodeContinuation). A vqa record gives the
//             AnswerVQA short prompt (PromptBuilder::AnswerVqa) with its answer.
// Targets longer than max_tokens allows are truncated (the EOS goes first); an example whose
// prompt alone leaves no room for one target token is skipped, as an issue of its line.
//
// Image features: the vision tower is frozen, so h_I of every image is computed once before
// training (an in-memory feature cache) and examples refer to rows of that table. Images that
// cannot be read or decoded are issues of every line that uses them.
//
// Batches are right-padded; the image and slot positions hold token id 0 in `ids` and are
// replaced by the h_img / slot vectors when the loss is computed (stage_loss.h).
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/ipn/lmeye_model.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer.h"
#include "model/train/manifest.h"
#include "model/train/train_config.h"
#include "model/vision/image_preprocess.h"

namespace lmeye {

struct TrainExample {
  int image = -1;           // row of the image feature table
  std::vector<int> prefix;  // P
  std::vector<int> text;    // X (instruct only)
  std::vector<int> target;  // caption / answer ids, EOS last unless truncated
  int line = 0;             // manifest line, for messages
  bool slot = false;        // instruct: the <img-d> slot follows X
  // Instruct on the released v0 layout: what follows X instead of the one slot, as
  // IpnPrompt::tail (kSlotPosition for each <img-d>, the prompt's tokens between and after them).
  std::vector<int> tail;

  // Positions of the (second-pass) LLM input: |P| + 1 + [|X| + max(1, |tail|)] + |target| - 1.
  int n_positions() const;
};

struct ExampleSet {
  std::vector<TrainExample> examples;
  std::vector<std::string> images;  // unique image paths; TrainExample::image indexes them
};

// Tokenizes `manifest` for `stage`. Lines that give no example (a conversation in an align
// manifest, a prompt over max_tokens) are appended to `issues`. Instruct prompts are the
// builder's (P, X and, for a marked layout, the tail); align examples take `align_prefix` as P
// (null: the tokenizer's PromptPrefix()).
absl::StatusOr<ExampleSet> BuildExamples(const Manifest& manifest, TrainStage stage,
                                         const PromptBuilder& builder, const Tokenizer& tokenizer,
                                         int max_tokens, std::vector<ManifestIssue>* issues,
                                         const std::vector<int>* align_prefix = nullptr);

// h_I of every image of `set`, in chunks of `batch` images: [n_images, d_v] float32 (CPU). Rows
// of images that cannot be read are left zero and their index added to `failed` with the reason.
absl::StatusOr<at::Tensor> EncodeImages(const LmeyeModel& model,
                                        const ClipImagePreprocessor& preprocessor,
                                        const std::vector<std::string>& images, int batch,
                                        std::vector<std::pair<int, std::string>>* failed);

// Drops the examples whose image failed, recording an issue per example line.
void DropFailedImages(const std::vector<std::pair<int, std::string>>& failed, ExampleSet* set,
                      std::vector<ManifestIssue>* issues);

// One micro-batch, right-padded to T = the longest example's n_positions().
struct TrainBatch {
  at::Tensor h_i;         // [B, d_v] float32
  at::Tensor ids;         // [B, T] int64; 0 at the image / slot positions and in padding
  at::Tensor mask;        // [B, T] int64, 1 = real position
  at::Tensor image_pos;   // [B] int64: where h_img goes (|P|)
  at::Tensor slot_pos;    // [B] int64: where <img-d> / the slot goes; undefined for align
  // [B, Q] int64: every <img-d> position of a tail (the released v0's Q slots, the first at
  // slot_pos); undefined without tails. The examples of one batch have the same Q.
  at::Tensor slot_positions;
  at::Tensor label_pos;   // [N] int64: flattened b * T + t of each position that predicts a target
  at::Tensor labels;      // [N] int64: the target ids
  int64_t n_targets = 0;  // N
};

// `features`: the table EncodeImages made. All examples of one batch must be of one stage.
TrainBatch MakeBatch(absl::Span<const TrainExample* const> examples, const at::Tensor& features);

}  // namespace lmeye
