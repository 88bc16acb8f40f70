#include "model/train/stage_loss.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {
namespace {

// [B, T, d] token embeddings with row b's position pos[b] replaced by vec[b]. A blend with
// one-hot weights rather than an in-place write, so that autograd reaches `vec` and nothing
// else is touched: the weights are exactly 0 or 1.
at::Tensor PlaceVector(const at::Tensor& embeds, const at::Tensor& pos, const at::Tensor& vec) {
  const int64_t T = embeds.size(1);
  at::Tensor hot = at::one_hot(pos, T).to(embeds.scalar_type()).unsqueeze(-1);  // [B, T, 1]
  return embeds * (1 - hot) + hot * vec.to(embeds.scalar_type()).unsqueeze(1);
}

// Summed NLL of the targets from the LLM over `embeds` (second pass or align input).
absl::StatusOr<at::Tensor> TargetNll(const LlmModel& llm, const at::Tensor& embeds,
                                     const TrainBatch& batch) {
  LlmInput input;
  input.inputs_embeds = embeds;
  input.attention_mask = batch.mask;
  LlmOutputOptions options;
  options.logits = LogitsAt::kNone;  // lm_head only at the target positions below
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
  return GuardTorch("training loss", [&]() -> absl::StatusOr<at::Tensor> {
    return TargetNllSum(llm, out.last_hidden_state, batch.label_pos, batch.labels);
  });
}

// The instruct loss with the prompt run once. Nothing before the slot requires grad (the
// instruct stage freezes phase 1), so the prompt [E[P], h_img, E[X]] runs without grad and
// both passes continue from its keys and values (LlmInput::past): the first pass computes the
// <img-d> position alone, the second [slot, answer] (each row's columns from its slot on, left
// aligned). The same loss as both passes over the whole sequence: the prompt is computed once
// instead of twice and never differentiated (instruct steps measured 1.4x faster). `target_row`
// and `from_slot` are TargetsFromSlots'.
absl::StatusOr<at::Tensor> InstructNllFromPrompt(LmeyeModel& model, const at::Tensor& first,
                                                 const at::Tensor& slot_pos,
                                                 const at::Tensor& target_row,
                                                 const at::Tensor& from_slot,
                                                 const TrainBatch& batch) {
  const LlmModel& llm = model.llm();
  const at::Device device = llm.device();
  LlmPast prompt;
  LMEYE_RETURN_IF_ERROR(GuardTorch("prompt pass input", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    const int64_t T1 = slot_pos.max().item<int64_t>();
    at::Tensor t = at::arange(T1, slot_pos.options());
    LlmInput input;
    input.inputs_embeds = first.narrow(1, 0, T1);
    input.attention_mask = (t.unsqueeze(0) < slot_pos.unsqueeze(1)).to(at::kLong);  // [B, T1]
    LlmOutputOptions options;
    options.logits = LogitsAt::kNone;
    options.present = true;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
    prompt = std::move(out.present);
    return absl::OkStatus();
  }));
  const int64_t B = first.size(0), T = first.size(1), d = first.size(2);
  at::Tensor h_r;
  LMEYE_RETURN_IF_ERROR(GuardTorch("first pass input", [&]() -> absl::Status {
    LlmInput input;
    input.inputs_embeds = model.ImgdToken().to(first.scalar_type()).expand({B, 1, d});
    input.past = &prompt;
    LlmOutputOptions options;
    options.logits = LogitsAt::kNone;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
    h_r = out.last_token_state;  // [B, d_L]
    return absl::OkStatus();
  }));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_d, model.Interact(batch.h_i.to(device, llm.dtype()), h_r));
  return GuardTorch("second pass", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor mask = batch.mask.to(device);
    const int64_t Ts = (mask.sum(1) - slot_pos).max().item<int64_t>();
    at::Tensor cols = slot_pos.unsqueeze(1) + at::arange(Ts, slot_pos.options());  // [B, Ts]
    at::Tensor inside = cols < T;
    cols = cols.clamp_max(T - 1);
    at::Tensor rest = first.gather(1, cols.unsqueeze(2).expand({B, Ts, d}));
    LlmInput input;
    input.inputs_embeds = PlaceVector(rest, at::zeros({B}, slot_pos.options()), model.Slot(h_d));
    input.attention_mask = mask.gather(1, cols) * inside.to(at::kLong);
    input.past = &prompt;
    LlmOutputOptions options;
    options.logits = LogitsAt::kNone;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
    // Targets at b * T + t move to b * Ts + (t - slot_pos[b]).
    return TargetNllSum(llm, out.last_hidden_state, target_row * Ts + from_slot, batch.labels);
  });
}

// Each target's row and its column counted from the row's slot (label_pos = b * T + t gives
// b and t - slot_pos[b]), [N] each: InstructNllFromPrompt computes a batch whose every target
// is at or after its slot.
void TargetsFromSlots(const TrainBatch& batch, const at::Tensor& slot_pos, at::Tensor* row,
                      at::Tensor* from_slot) {
  at::Tensor label_pos = batch.label_pos.to(slot_pos.device());
  const int64_t T = batch.mask.size(1);
  *row = label_pos.div(T, "floor");
  *from_slot = label_pos - *row * T - slot_pos.index_select(0, *row);
}

// The instruct loss of the released v0 layout (docs/LINGCLOUD.md "LMEye v0"; the release's
// promot_model_instruction_remake.forward): the first pass over the prompt up to its first
// <img-d> (E[<img-d>] + embedding_imgd there) gives h at that position, the interaction gives Q
// rows, and the second pass over the whole sequence with the k-th <img-d> row replaced by the
// k-th of them predicts the answer. Both passes run in full (the first pass's <img-d> row itself
// trains in phase 2). The first pass is read after or before the final norm per the adapter's
// first_pass_hidden.
absl::StatusOr<at::Tensor> LingcloudV0InstructNll(LmeyeModel& model, const at::Tensor& first,
                                                  const TrainBatch& batch) {
  const LlmModel& llm = model.llm();
  const at::Device device = llm.device();
  if (!batch.slot_positions.defined() || batch.slot_positions.size(1) != model.n_slot_positions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("instruct loss: a lingcloud-v0 batch needs ", model.n_slot_positions(),
                     " <img-d> positions per example (the layout's prompts)"));
  }
  const at::Tensor slot_pos = batch.slot_pos.to(device);
  at::Tensor h_r;
  LMEYE_ASSIGN_OR_RETURN(at::Tensor imgd_row, model.FirstPassSlot());
  LMEYE_RETURN_IF_ERROR(GuardTorch("first pass", [&]() -> absl::Status {
    const int64_t T1 = slot_pos.max().item<int64_t>() + 1;
    const int64_t B = first.size(0);
    at::Tensor imgd = imgd_row.to(first.scalar_type()).expand({B, first.size(2)});
    LlmInput input;
    input.inputs_embeds = PlaceVector(first, slot_pos, imgd).narrow(1, 0, T1);
    at::Tensor t = at::arange(T1, slot_pos.options());
    input.attention_mask = (t.unsqueeze(0) <= slot_pos.unsqueeze(1)).to(at::kLong);  // [B, T1]
    LlmOutputOptions options;
    options.logits = LogitsAt::kNone;
    options.pre_norm = model.first_pass_pre_norm();
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
    // The first <img-d> is each row's last real position.
    h_r = options.pre_norm
              ? out.pre_norm_hidden.index({at::arange(B, slot_pos.options()), slot_pos})
              : out.last_token_state;  // [B, d_L]
    return absl::OkStatus();
  }));
  LMEYE_ASSIGN_OR_RETURN(IpnSlotRows slots,
                         model.InteractSlots(batch.h_i.to(device, llm.dtype()), h_r));
  at::Tensor second;
  LMEYE_RETURN_IF_ERROR(GuardTorch("second pass input", [&]() -> absl::Status {
    second = first;
    const at::Tensor positions = batch.slot_positions.to(device);
    for (int64_t k = 0; k < positions.size(1); ++k) {
      second = PlaceVector(second, positions.select(1, k), slots.rows.select(1, k));
    }
    return absl::OkStatus();
  }));
  return TargetNll(llm, second, batch);
}

}  // namespace

at::Tensor TargetNllSum(const LlmModel& llm, const at::Tensor& hidden, const at::Tensor& label_pos,
                        const at::Tensor& labels) {
  at::Tensor rows = hidden.reshape({hidden.size(0) * hidden.size(1), hidden.size(2)})
                        .index_select(0, label_pos.to(hidden.device()));   // [N, d]
  at::Tensor logp = at::log_softmax(llm.Logits(rows).to(at::kFloat), -1);  // [N, V]
  return -logp.gather(1, labels.to(hidden.device()).unsqueeze(1)).sum();
}

absl::StatusOr<at::Tensor> StageLossSum(LmeyeModel& model, TrainStage stage,
                                        const TrainBatch& batch) {
  const LlmModel& llm = model.llm();
  const at::Device device = llm.device();
  LMEYE_ASSIGN_OR_RETURN(at::Tensor token_embeds, llm.EmbedTokens(batch.ids.to(device)));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_img, model.ImagePosition(batch.h_i.to(device, llm.dtype())));
  at::Tensor first;
  LMEYE_RETURN_IF_ERROR(GuardTorch("placing the image token", [&]() -> absl::Status {
    first = PlaceVector(token_embeds, batch.image_pos.to(device), h_img);
    return absl::OkStatus();
  }));
  if (stage == TrainStage::kAlign) return TargetNll(llm, first, batch);

  if (!batch.slot_pos.defined()) {
    return absl::InvalidArgumentError("instruct loss: the batch has no <img-d> slot");
  }
  if (model.lingcloud_v0() != nullptr) return LingcloudV0InstructNll(model, first, batch);
  at::Tensor slot_pos = batch.slot_pos.to(device);
  bool from_prompt = false;
  at::Tensor target_row, from_slot;
  LMEYE_RETURN_IF_ERROR(GuardTorch("instruct batch", [&]() -> absl::Status {
    if (first.requires_grad()) return absl::OkStatus();
    TargetsFromSlots(batch, slot_pos, &target_row, &from_slot);
    from_prompt = (from_slot >= 0).all().item<bool>();
    return absl::OkStatus();
  }));
  if (from_prompt) {
    return InstructNllFromPrompt(model, first, slot_pos, target_row, from_slot, batch);
  }
  // Both passes over the whole sequence (something before the slot trains). First pass over
  // the prompt only: [E[P], h_img, E[X], imgd], the columns up to the last slot.
  at::Tensor h_r;
  LMEYE_RETURN_IF_ERROR(GuardTorch("first pass input", [&]() -> absl::Status {
    const int64_t T1 = slot_pos.max().item<int64_t>() + 1;
    const int64_t B = first.size(0);
    at::Tensor imgd = model.ImgdToken().to(first.scalar_type()).expand({B, first.size(2)});
    at::Tensor embeds1 = PlaceVector(first, slot_pos, imgd).narrow(1, 0, T1);
    at::Tensor t = at::arange(T1, slot_pos.options());
    LlmInput input;
    input.inputs_embeds = embeds1;
    input.attention_mask = (t.unsqueeze(0) <= slot_pos.unsqueeze(1)).to(at::kLong);  // [B, T1]
    LlmOutputOptions options;
    options.logits = LogitsAt::kNone;
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, llm.Forward(input, options));
    h_r = out.last_token_state;  // [B, d_L]: the <img-d> position, each row's last real one
    return absl::OkStatus();
  }));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_d, model.Interact(batch.h_i.to(device, llm.dtype()), h_r));
  at::Tensor second;
  LMEYE_RETURN_IF_ERROR(GuardTorch("second pass input", [&]() -> absl::Status {
    second = PlaceVector(first, slot_pos, model.Slot(h_d));
    return absl::OkStatus();
  }));
  return TargetNll(llm, second, batch);
}

}  // namespace lmeye
