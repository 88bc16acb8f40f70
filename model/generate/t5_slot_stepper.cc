#include "model/generate/t5_slot_stepper.h"

#include "absl/strings/str_cat.h"

namespace lmeye {

absl::Status T5SlotStepper::Truncate(int slot, int length) {
  if (slot < 0 || slot >= cache_.n_slots() || !cache_.in_use(slot)) {
    return absl::InvalidArgumentError(absl::StrCat("T5 cache: slot ", slot, " is not in use"));
  }
  if (length < 0 || length > cache_.length(slot)) {
    return absl::InvalidArgumentError(absl::StrCat("T5 cache: cannot truncate slot ", slot,
                                                   " of length ", cache_.length(slot), " to ",
                                                   length));
  }
  // Positions past the length are masked by every step, so only the count changes.
  cache_.SetLength(slot, length);
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> T5SlotStepper::Step(const std::vector<int>& slots,
                                               const std::vector<int64_t>& tokens) {
  if (slots.size() != tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 step: ", slots.size(), " slots but ", tokens.size(), " tokens"));
  }
  at::Tensor ids = at::tensor(tokens, at::kLong).unsqueeze(1).to(model_.device());  // [B, 1]
  return model_.DecodeStep(ids, cache_, slots);
}

}  // namespace lmeye
