#include "model/ipn/generator.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/generate/beam_search.h"
#include "model/vision/image_decode.h"

namespace lmeye {

absl::StatusOr<std::unique_ptr<LmeyeGenerator>> LmeyeGenerator::Create(
    LmeyeModel* model, const Tokenizer* tokenizer, ClipImagePreprocessor preprocessor,
    ImageFeatureCache* image_cache, const EngineOptions& engine_options,
    const ImageLimits& limits) {
  if (model == nullptr || tokenizer == nullptr) {
    return absl::InvalidArgumentError("LmeyeGenerator needs a model and a tokenizer");
  }
  LMEYE_ASSIGN_OR_RETURN(auto engine, DecoderIpnEngine::Create(model, engine_options));
  return std::unique_ptr<LmeyeGenerator>(new LmeyeGenerator(
      model, tokenizer, std::move(preprocessor), image_cache, std::move(engine), limits));
}

absl::StatusOr<at::Tensor> LmeyeGenerator::ImageFeature(const std::string& image, bool* hit) {
  *hit = false;
  if (image.empty()) return absl::InvalidArgumentError("image: empty (an image is required)");
  ImageDigest digest{};
  if (image_cache_ != nullptr) {
    digest = HashImageBytes(image);
    if (auto cached = image_cache_->Lookup(digest)) {
      *hit = true;
      return cached->h_I;
    }
  }
  auto rgb = DecodeImage(image, limits_);
  if (!rgb.ok()) {
    return absl::Status(rgb.status().code(), absl::StrCat("image: ", rgb.status().message()));
  }
  LMEYE_ASSIGN_OR_RETURN(at::Tensor pixels, preprocessor_.Preprocess(*rgb));
  LMEYE_ASSIGN_OR_RETURN(at::Tensor h_i, engine_->EncodeImages(pixels.unsqueeze(0)));
  at::Tensor row = h_i[0].clone();  // own storage: the cache charges a view for its base
  if (image_cache_ != nullptr) {
    ImageFeatures features;
    features.h_I = row;
    image_cache_->Insert(digest, std::move(features));
  }
  return row;
}

absl::Status LmeyeGenerator::Prefill(IpnSequence& seq) {
  LMEYE_RETURN_IF_ERROR(engine_->FirstPass({&seq}));
  if (seq.interaction) {
    absl::Status st = engine_->Interact({&seq});
    if (st.ok()) st = engine_->SecondPass({&seq});
    if (!st.ok()) {
      engine_->Release(seq);
      return st;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GenerateResponse> LmeyeGenerator::Generate(const GenerateRequest& request,
                                                          const TextCallback& on_text) {
  torch::NoGradGuard no_grad;
  if (request.num_beams < 1) return absl::InvalidArgumentError("num_beams: must be at least 1");
  GenerateResponse response;
  IpnSequence seq;
  LMEYE_ASSIGN_OR_RETURN(seq.h_i, ImageFeature(request.image, &response.image_cache_hit));
  seq.prefix = request.prompt.prefix;
  seq.text = request.prompt.text;
  seq.tail = request.prompt.tail;
  seq.interaction = request.interaction;
  response.n_prompt_positions = seq.prompt_positions();
  // Validate before spending a prefill on a request that cannot run.
  LMEYE_RETURN_IF_ERROR(request.sampling.Validate());
  LMEYE_RETURN_IF_ERROR(Prefill(seq));
  absl::Status status = GuardTorch("generate", [&]() -> absl::Status {
    const LlmModel& llm = model_->llm();
    if (request.num_beams > 1) {
      BeamSearchParams beams;
      beams.num_beams = request.num_beams;
      beams.length_penalty = request.length_penalty;
      beams.max_new_tokens = request.sampling.max_new_tokens;
      beams.eos_token_ids = request.sampling.eos_token_ids;
      if (beams.eos_token_ids.empty() && tokenizer_->eos_id() >= 0) {
        beams.eos_token_ids = {tokenizer_->eos_id()};
      }
      LMEYE_ASSIGN_OR_RETURN(BeamSearchResult result,
                             BeamSearch(llm, engine_->cache(), seq.slot, seq.next_logits, beams));
      const BeamHypothesis& best = result.hypotheses.at(0);
      response.tokens = best.tokens;
      std::vector<int> ids(best.tokens.begin(), best.tokens.end());
      LMEYE_ASSIGN_OR_RETURN(response.text, tokenizer_->Decode(ids));
      response.finish_reason = best.ended_with_eos ? FinishReason::kEos : FinishReason::kLength;
      if (on_text && !response.text.empty()) on_text(response.text);
      return absl::OkStatus();
    }
    SamplingParams params = request.sampling;
    if (params.eos_token_ids.empty() && tokenizer_->eos_id() >= 0) {
      params.eos_token_ids = {tokenizer_->eos_id()};
    }
    LMEYE_ASSIGN_OR_RETURN(auto stream,
                           GenerationStream::Create(params, tokenizer_, seq.prompt_token_ids()));
    LMEYE_ASSIGN_OR_RETURN(
        GenerateResult result,
        lmeye::Generate(llm, engine_->cache(), seq.slot, seq.next_logits, *stream, on_text));
    response.text = std::move(result.text);
    response.tokens = std::move(result.tokens);
    response.finish_reason = result.finish_reason;
    return absl::OkStatus();
  });
  engine_->Release(seq);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<ChoiceScores> LmeyeGenerator::ScoreChoices(const std::string& image,
                                                          const ChoicePrompt& prompt,
                                                          bool interaction) {
  torch::NoGradGuard no_grad;
  IpnSequence seq;
  bool hit = false;
  LMEYE_ASSIGN_OR_RETURN(seq.h_i, ImageFeature(image, &hit));
  seq.prefix = prompt.prompt.prefix;
  seq.text = prompt.prompt.text;
  seq.tail = prompt.prompt.tail;
  seq.interaction = interaction;
  std::vector<std::vector<int64_t>> choices;
  for (const auto& c : prompt.choices) choices.emplace_back(c.begin(), c.end());
  LMEYE_RETURN_IF_ERROR(Prefill(seq));
  auto scores = engine_->ScoreChoices(seq, choices);
  engine_->Release(seq);
  return scores;
}

}  // namespace lmeye
