#include "model/generate/generate.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "model/common/status_macros.h"
#include "model/common/torch_status.h"

namespace lmeye {

absl::StatusOr<GenerateResult> Generate(const LlmModel& model, KvCache& cache, int slot,
                                        const at::Tensor& logits, GenerationStream& stream,
                                        const TextCallback& on_text) {
  LMEYE_RETURN_IF_ERROR(cache.CheckSlots({slot}));
  torch::NoGradGuard no_grad;
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  at::Tensor next = logits;  // [V]
  auto emit = [&](const std::string& text) {
    if (on_text && !text.empty()) on_text(text);
  };
  while (!stream.finished()) {
    LMEYE_ASSIGN_OR_RETURN(StreamStep step, stream.Advance(next));
    emit(step.text);
    if (step.finished) break;
    if (cache.length(slot) >= cache.capacity()) {
      emit(stream.Finish(FinishReason::kLength));
      break;
    }
    LlmInput in;
    in.input_ids =
        at::full({1, 1}, step.token, at::TensorOptions().dtype(at::kLong)).to(model.device());
    LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Step(in, cache, {slot}, last_only));
    next = out.logits[0];
  }
  GenerateResult result;
  result.tokens.assign(stream.generated().begin(), stream.generated().end());
  result.logprobs = stream.logprobs();
  result.text = stream.text();
  result.finish_reason = stream.finish_reason();
  result.n_prompt_tokens = stream.n_prompt_tokens();
  result.n_generated_tokens = stream.n_generated_tokens();
  return result;
}

absl::StatusOr<GenerateResult> Generate(const LlmModel& model, absl::Span<const int64_t> prompt,
                                        const SamplingParams& params, const Tokenizer* tokenizer,
                                        const TextCallback& on_text) {
  if (prompt.empty()) return absl::InvalidArgumentError("prompt: no tokens");
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<GenerationStream> stream,
      GenerationStream::Create(params, tokenizer,
                               std::vector<int64_t>(prompt.begin(), prompt.end())));
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(
      std::unique_ptr<KvCache> cache,
      model.NewCache(1, static_cast<int>(prompt.size()) + params.max_new_tokens));
  LMEYE_ASSIGN_OR_RETURN(int slot, cache->Allocate());
  LlmInput in;
  LMEYE_RETURN_IF_ERROR(GuardTorch("generate", [&]() -> absl::Status {
    in.input_ids = at::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), at::kLong)
                       .unsqueeze(0)
                       .to(model.device());
    return absl::OkStatus();
  }));
  LlmOutputOptions last_only;
  last_only.logits = LogitsAt::kLast;
  LMEYE_ASSIGN_OR_RETURN(LlmOutput out, model.Step(in, *cache, {slot}, last_only));
  return Generate(model, *cache, slot, out.logits[0], *stream, on_text);
}

}  // namespace lmeye
