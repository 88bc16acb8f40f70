#include "model/llm/greedy.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::StatusOr<GreedyResult> GreedyGenerate(const LlmModel& model, const LlmInput& prompt,
                                            const GreedyOptions& options) {
  if (options.max_new_tokens <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_new_tokens must be > 0, got ", options.max_new_tokens));
  }
  const at::Tensor& any = prompt.input_ids.defined() ? prompt.input_ids : prompt.inputs_embeds;
  if (!any.defined() || any.dim() < 2) {
    return absl::InvalidArgumentError("greedy generation needs a [batch, seq] prompt");
  }
  torch::NoGradGuard no_grad;
  const int B = static_cast<int>(any.size(0));
  const int T = static_cast<int>(any.size(1));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache,
                         model.NewCache(B, T + options.max_new_tokens));
  std::vector<int> slots;
  for (int b = 0; b < B; ++b) {
    LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
    slots.push_back(slot);
  }
  const bool has_eos = !options.eos_token_ids.empty();
  const int64_t pad = options.pad_token_id >= 0 ? options.pad_token_id
                      : has_eos                 ? options.eos_token_ids.front()
                                                : 0;
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Step(prompt, *cache, slots, last_only));
  return GuardTorch("greedy generation", [&]() -> absl::StatusOr<GreedyResult> {
    at::Tensor eos = at::tensor(options.eos_token_ids, at::kLong);
    at::Tensor unfinished = at::ones({B}, at::kBool);
    std::vector<at::Tensor> tokens, logits;
    for (int step = 0; step < options.max_new_tokens; ++step) {
      at::Tensor step_logits = out.logits.to(at::kCPU, at::kFloat);  // [B, V]
      if (options.keep_step_logits) logits.push_back(step_logits);
      at::Tensor next = step_logits.argmax(-1);  // [B]
      if (has_eos) {
        next = at::where(unfinished, next, at::full_like(next, pad));
        unfinished = unfinished & at::isin(next, eos).logical_not();
      }
      tokens.push_back(next);
      if (!unfinished.any().item<bool>() || step + 1 == options.max_new_tokens) break;
      LlmInput in;
      in.input_ids = next.unsqueeze(1);
      LMEYE_ASSIGN_OR_RETURN(out, model.Step(in, *cache, slots, last_only));
    }
    GreedyResult result;
    result.tokens = at::stack(tokens, 1);
    if (options.keep_step_logits) result.step_logits = at::stack(logits, 0);
    return result;
  });
}

}  // namespace lmeye
