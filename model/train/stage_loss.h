// The training loss of each stage: the summed next-token negative log-likelihood of a batch's
// targets (docs/DESIGN.md section 2, "Training"; batch layout in train_data.h).
//
//   align     h_img = img_token + align(h_I); LLM([E[P], h_img, E[caption]]) -> NLL of the caption
//   instruct  first pass LLM([E[P], h_img, E[X], imgd_token]) -> h_r at <img-d>;
//             h_d = Interact(h_I, h_r); slot = Slot(h_d) (combine replace | add);
//             second pass LLM([E[P], h_img, E[X], slot, E[answer]]) -> NLL of the answer
// Every position before the slot is the same in both passes, as in serving. When nothing there
// requires grad (the instruct stage: phase 1 frozen) the prompt [E[P], h_img, E[X]] runs once,
// without grad, and both passes continue from its keys and values (LlmInput::past), as serving
// continues from its KV cache; otherwise both passes run over the whole sequence. Same loss and
// gradients either way (tested).
//
// Gradients flow in the caller's grad mode through the frozen LLM and CLIP text tower into
// whatever adapter parameters require grad; the frozen weights never get a .grad (their
// requires_grad is false). The sum, not the mean: the trainer divides by the number of targets
// of the whole optimizer step (all micro-batches and processes), so accumulation and data
// parallelism give the gradient of one big batch.
#pragma once

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "model/ipn/lmeye_model.h"
#include "model/train/train_config.h"
#include "model/train/train_data.h"

namespace lmeye {

// The summed next-token NLL of `labels` ([N] int64) predicted at the flattened positions
// `label_pos` ([N] int64, b * T + t) of `hidden` ([B, T, d], the LLM's last_hidden_state): the
// lm_head runs at those rows only, logits in float32. Shared by every stage that trains on
// text targets (align, instruct, lm). libtorch errors propagate as c10::Error (callers guard).
at::Tensor TargetNllSum(const LlmModel& llm, const at::Tensor& hidden, const at::Tensor& label_pos,
                        const at::Tensor& labels);

// Scalar float32 (computed in float32 from the LLM's logits): sum over batch.n_targets targets.
absl::StatusOr<at::Tensor> StageLossSum(LmeyeModel& model, TrainStage stage,
                                        const TrainBatch& batch);

}  // namespace lmeye
