#include "model/tools/greedy_reference.h"

#include <algorithm>
#include <random>

#include <torch/csrc/autograd/grad_mode.h>

#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/llm/greedy.h"
#include "model/llm/llm_model.h"

namespace lmeye {

absl::StatusOr<GreedyReference> RunGreedyReference(const GreedyReferenceOptions& o) {
  torch::NoGradGuard no_grad;
  LlmLoadOptions load;
  load.dtype = o.dtype;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LlmModel> model, LlmModel::Load(o.llm_dir, load));
  const LlmConfig& config = model->config();
  GreedyReference ref;
  const int64_t lo = std::min<int64_t>(259, config.vocab_size - 1);
  const int64_t hi = std::min<int64_t>(config.vocab_size, 32000);
  std::mt19937_64 rng(o.seed);
  ref.prompt.push_back(config.bos_token_id >= 0 ? config.bos_token_id : 1);
  for (int i = 1; i < o.n_prompt; ++i) {
    ref.prompt.push_back(lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo)));
  }
  GreedyOptions greedy;
  greedy.max_new_tokens = o.n_steps;
  greedy.keep_step_logits = true;  // no eos: a random model may emit it; keep stepping
  LlmInput input;
  LMEYE_ASSIGN_OR_RETURN(input.input_ids, GuardTorch("prompt", [&]() -> absl::StatusOr<at::Tensor> {
                           return at::tensor(ref.prompt, at::kLong).view({1, -1});
                         }));
  LMEYE_ASSIGN_OR_RETURN(GreedyResult result, GreedyGenerate(*model, input, greedy));
  return GuardTorch("greedy reference", [&]() -> absl::StatusOr<GreedyReference> {
    at::Tensor top2 = std::get<0>(result.step_logits.select(1, 0).topk(2, -1));  // [steps, 2]
    for (int64_t s = 0; s < result.tokens.size(1); ++s) {
      ref.tokens.push_back(result.tokens[0][s].item<int64_t>());
      ref.margins.push_back((top2[s][0] - top2[s][1]).item<float>());
    }
    return ref;
  });
}

nlohmann::json GreedyReferenceToJson(const GreedyReference& r) {
  return {{"prompt", r.prompt}, {"tokens", r.tokens}, {"margins", r.margins}};
}

}  // namespace lmeye
