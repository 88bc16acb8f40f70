#include "model/generate/llm_slot_stepper.h"

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {

absl::StatusOr<at::Tensor> LlmSlotStepper::Step(const std::vector<int>& slots,
                                                const std::vector<int64_t>& tokens) {
  if (slots.size() != tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("LLM step: ", slots.size(), " slots but ", tokens.size(), " tokens"));
  }
  LlmInput in;
  in.input_ids = at::tensor(tokens, at::kLong).unsqueeze(1).to(model_.device());  // [B, 1]
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model_.Step(in, cache_, slots, last_only));
  return out.logits;
}

}  // namespace lmeye
