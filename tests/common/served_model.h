// A model directory loaded the way `lmeye serve`'s worker loads it (LmeyeModel::Load, the
// tokenizer of its LLM directory, its vision tower's preprocessor_config.json, the layout's
// prompts: the release's marked prompts for lingcloud-v0) and asked to describe an image with a
// few greedy tokens through the IpnEngine, for tests of the directories that tools write.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "absl/status/statusor.h"
#include "model/common/status_macros.h"
#include "model/ipn/engine.h"
#include "model/ipn/lmeye_model.h"
#include "model/ipn/marked_prompt.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer_factory.h"
#include "model/vision/image_decode.h"
#include "model/vision/image_preprocess.h"

namespace lmeye::testing {

// `n_tokens` greedy ids of the Describe prompt about the image at `image_path`.
inline absl::StatusOr<std::vector<int64_t>> GreedyDescribe(const std::string& model_dir,
                                                           const std::string& image_path,
                                                           int n_tokens) {
  torch::NoGradGuard no_grad;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<LmeyeModel> model, LmeyeModel::Load(model_dir));
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer,
                         LoadTokenizer(model->dir().llm_dir()));
  LMEYE_ASSIGN_OR_RETURN(ClipImagePreprocessor preprocessor,
                         ClipImagePreprocessor::FromFile(model->dir().preprocessor_config_file()));
  PromptTemplates templates;
  std::optional<MarkedPromptOptions> marked;
  if (const LingcloudV0Ipn* v0 = model->lingcloud_v0(); v0 != nullptr) {
    marked = LingcloudV0MarkedPrompts(v0->options());
    templates = LingcloudV0PromptTemplates(marked->n_slots);
  }
  LMEYE_ASSIGN_OR_RETURN(PromptBuilder builder,
                         PromptBuilder::Create(tokenizer.get(), templates, {}, marked));
  LMEYE_ASSIGN_OR_RETURN(IpnPrompt prompt, builder.Describe());
  LMEYE_ASSIGN_OR_RETURN(cv::Mat rgb, DecodeImageFile(image_path));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, preprocessor.PreprocessBatch({rgb}));

  EngineOptions options;
  options.n_slots = 1;
  options.capacity = prompt.n_positions() + n_tokens + 1;
  LMEYE_ASSIGN_OR_RETURN(std::unique_ptr<IpnEngine> engine,
                         IpnEngine::Create(model.get(), options));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine->EncodeImages(pixels));
  IpnSequence seq;
  seq.h_i = h_i[0];
  seq.prefix = prompt.prefix;
  seq.text = prompt.text;
  seq.tail = prompt.tail;
  LMEYE_RETURN_IF_ERROR(engine->FirstPass({&seq}));
  LMEYE_RETURN_IF_ERROR(engine->Interact({&seq}));
  LMEYE_RETURN_IF_ERROR(engine->SecondPass({&seq}));
  std::vector<int64_t> ids;
  at::Tensor logits = seq.next_logits;
  for (int step = 0; step < n_tokens; ++step) {
    ids.push_back(logits.argmax().item<int64_t>());
    if (step + 1 == n_tokens) break;
    LMEYE_ASSIGN_OR_RETURN(at::Tensor next, engine->DecodeStep({seq.slot}, {ids.back()}));
    logits = next[0];
  }
  engine->Release(seq);
  return ids;
}

}  // namespace lmeye::testing
