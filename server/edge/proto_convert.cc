#include "server/edge/proto_convert.h"

#include <cmath>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/ipn/prompt_templates.h"
#include "model/tokenizer/utf8.h"

namespace lmeye {
namespace {

absl::Status ParamsError(const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("params.", status.message()));
}

// The API (lmeye.proto) answers a prompt over max_prompt_tokens with RESOURCE_EXHAUSTED, the
// PromptBuilder with InvalidArgument like every other field error; its token-limit messages all
// end in "max_prompt_tokens)" (tested in service_test, so a change there is caught). The message,
// which names the field, is kept.
absl::Status PromptError(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument &&
      absl::StrContains(status.message(), "max_prompt_tokens)")) {
    return absl::ResourceExhaustedError(status.message());
  }
  return status;
}

// LMEYE_ASSIGN_OR_RETURN for PromptBuilder results, through PromptError.
template <typename T>
absl::Status AssignPrompt(absl::StatusOr<T> built, T* out) {
  if (!built.ok()) return PromptError(built.status());
  *out = *std::move(built);
  return absl::OkStatus();
}

absl::StatusOr<VqaStyle> ConvertStyle(v1::AnswerStyle style) {
  switch (style) {
    case v1::ANSWER_STYLE_UNSPECIFIED:
    case v1::ANSWER_STYLE_SHORT:
      return VqaStyle::kShort;
    case v1::ANSWER_STYLE_LONG:
      return VqaStyle::kLong;
    default:
      // proto3 enums are open: a newer client may send a value this server does not know.
      return absl::InvalidArgumentError(absl::StrCat("style: unknown value ", style));
  }
}

// The parts every RPC shares: image check, parameters, the request label.
absl::StatusOr<InferenceRequest> StartRequest(absl::string_view rpc, const std::string& image,
                                              bool image_required,
                                              const v1::GenerationParams& params,
                                              int default_num_beams,
                                              const ServiceOptions& options) {
  LMEYE_RETURN_IF_ERROR(CheckImage(image, image_required, options.limits));
  LMEYE_ASSIGN_OR_RETURN(
      GenerationSettings settings,
      ConvertGenerationParams(params, default_num_beams, options.defaults, options.limits));
  InferenceRequest request;
  request.rpc = std::string(rpc.data(), rpc.size());
  request.image = image;
  request.sampling = std::move(settings.sampling);
  request.num_beams = settings.num_beams;
  request.length_penalty = settings.length_penalty;
  request.interaction = settings.interaction;
  return request;
}

}  // namespace

absl::StatusOr<GenerationSettings> ConvertGenerationParams(const v1::GenerationParams& params,
                                                           int default_num_beams,
                                                           const GenerationDefaults& defaults,
                                                           const ServiceLimits& limits) {
  GenerationSettings out;
  SamplingParams& s = out.sampling;
  s = defaults.sampling;
  s.stop.clear();
  s.seed.reset();
  s.eos_token_ids.clear();
  s.ignore_eos = false;
  if (params.has_max_new_tokens()) {
    // uint32 on the wire: anything over the limit is rejected before the int conversion.
    if (params.max_new_tokens() > static_cast<uint32_t>(limits.max_new_tokens)) {
      return absl::InvalidArgumentError(absl::StrCat("params.max_new_tokens must be at most ",
                                                     limits.max_new_tokens, ", got ",
                                                     params.max_new_tokens()));
    }
    s.max_new_tokens = static_cast<int>(params.max_new_tokens());
  }
  if (params.has_temperature()) s.temperature = params.temperature();
  if (params.has_top_k()) {
    if (params.top_k() > static_cast<uint32_t>(1 << 30)) {
      return absl::InvalidArgumentError(
          absl::StrCat("params.top_k is out of range, got ", params.top_k()));
    }
    s.top_k = static_cast<int>(params.top_k());
  }
  if (params.has_top_p()) s.top_p = params.top_p();
  if (params.has_repetition_penalty()) s.repetition_penalty = params.repetition_penalty();
  if (params.has_seed()) s.seed = params.seed();
  s.stop.assign(params.stop().begin(), params.stop().end());
  s.ignore_eos = params.ignore_eos();
  absl::Status valid = s.Validate();
  if (!valid.ok()) return ParamsError(valid);

  if (params.has_num_beams()) {
    if (params.num_beams() < 1 ||
        params.num_beams() > static_cast<uint32_t>(limits.max_num_beams)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "params.num_beams must be in [1, ", limits.max_num_beams, "], got ", params.num_beams()));
    }
    out.num_beams = static_cast<int>(params.num_beams());
  } else {
    out.num_beams = s.greedy() ? default_num_beams : 1;
  }
  if (out.num_beams > 1 && !s.greedy()) {
    return absl::InvalidArgumentError(
        "params.num_beams > 1 (beam search) cannot be combined with params.temperature > 0");
  }
  out.length_penalty = defaults.length_penalty;
  if (params.has_length_penalty()) {
    if (!std::isfinite(params.length_penalty())) {
      return absl::InvalidArgumentError("params.length_penalty must be finite");
    }
    out.length_penalty = params.length_penalty();
  }
  out.interaction = params.has_interaction() ? params.interaction() : defaults.interaction;
  return out;
}

absl::Status CheckImage(const std::string& image, bool required, const ServiceLimits& limits) {
  if (image.empty() && required) {
    return absl::InvalidArgumentError("image: required (JPEG, PNG, WebP or BMP bytes)");
  }
  if (image.size() > limits.max_image_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image: ", image.size(), " bytes, more than the limit (", limits.max_image_bytes, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<InferenceRequest> ChatToInference(const v1::ChatRequest& request,
                                                 const PromptBuilder& prompts,
                                                 const ServiceOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(InferenceRequest out,
                         StartRequest("Chat", request.image(), /*image_required=*/false,
                                      request.params(), options.defaults.num_beams, options));
  std::vector<ChatMessage> messages;
  messages.reserve(request.messages_size());
  for (int i = 0; i < request.messages_size(); ++i) {
    const v1::Message& m = request.messages(i);
    std::optional<ChatRole> role = ChatRoleFromName(m.role());
    if (!role.has_value()) {
      // The role quoted up to 32 bytes, cut before a character it would split: clients decode
      // the message as UTF-8.
      std::string quoted;
      AppendValidUtf8(absl::string_view(m.role()).substr(0, 32), Utf8Replacement::kMaximalSubpart,
                      /*final=*/false, &quoted);
      return absl::InvalidArgumentError(absl::StrCat("messages[", i, "].role: unknown role \"",
                                                     quoted, "\" (human, user, assistant or gpt)"));
    }
    messages.push_back(ChatMessage{*role, m.text()});
  }
  LMEYE_RETURN_IF_ERROR(AssignPrompt(prompts.Chat(messages), &out.prompt));
  return out;
}

absl::StatusOr<InferenceRequest> DescribeToInference(const v1::DescribeRequest& request,
                                                     absl::string_view rpc,
                                                     const PromptBuilder& prompts,
                                                     const ServiceOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(
      InferenceRequest out,
      StartRequest(rpc, request.image(), /*image_required=*/true, request.params(),
                   options.defaults.describe_num_beams, options));
  LMEYE_RETURN_IF_ERROR(AssignPrompt(prompts.Describe(), &out.prompt));
  return out;
}

absl::StatusOr<InferenceRequest> AnswerVqaToInference(const v1::AnswerVQARequest& request,
                                                      const PromptBuilder& prompts,
                                                      const ServiceOptions& options) {
  LMEYE_ASSIGN_OR_RETURN(
      InferenceRequest out,
      StartRequest("AnswerVQA", request.image(), /*image_required=*/true, request.params(),
                   options.defaults.vqa_num_beams > 0 ? options.defaults.vqa_num_beams
                                                      : options.defaults.num_beams,
                   options));
  LMEYE_ASSIGN_OR_RETURN(VqaStyle style, ConvertStyle(request.style()));
  if (request.choices_size() == 0) {
    LMEYE_RETURN_IF_ERROR(AssignPrompt(prompts.AnswerVqa(request.question(), style), &out.prompt));
    return out;
  }
  const std::vector<std::string> choices(request.choices().begin(), request.choices().end());
  ChoicePrompt choice_prompt;
  LMEYE_RETURN_IF_ERROR(
      AssignPrompt(prompts.MultipleChoice(request.question(), choices), &choice_prompt));
  out.kind = RequestKind::kScoreChoices;
  out.prompt = std::move(choice_prompt.prompt);
  out.choices = std::move(choice_prompt.choices);
  return out;
}

v1::FinishReason ToProtoFinishReason(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case FinishReason::kEos:
      return v1::FINISH_REASON_EOS;
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kNone:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void FillFinal(const InferenceResult& result, v1::Final* final_message) {
  final_message->set_finish_reason(ToProtoFinishReason(result.finish_reason));
  v1::Usage* usage = final_message->mutable_usage();
  usage->set_prompt_tokens(static_cast<uint32_t>(std::max(result.n_prompt_tokens, 0)));
  usage->set_generated_tokens(static_cast<uint32_t>(std::max(result.n_generated_tokens, 0)));
  usage->set_cached_prompt_tokens(
      static_cast<uint32_t>(std::max(result.n_cached_prompt_tokens, 0)));
  v1::Timings* timings = final_message->mutable_timings();
  timings->set_queue_seconds(result.timings.queue_seconds);
  timings->set_time_to_first_token_seconds(result.timings.first_token_seconds);
  timings->set_total_seconds(result.timings.total_seconds);
  timings->set_interaction_seconds(result.timings.interaction_seconds);
  final_message->set_text(result.text);
  final_message->set_image_cache_hit(result.image_cache_hit);
}

void FillDescribeResponse(const InferenceResult& result, v1::DescribeResponse* response) {
  response->set_text(result.text);
  FillFinal(result, response->mutable_final());
}

void FillAnswerVqaResponse(const InferenceResult& result,
                           const std::vector<std::string>& choice_texts,
                           const std::vector<std::vector<int>>& choice_ids,
                           v1::AnswerVQAResponse* response) {
  FillFinal(result, response->mutable_final());
  if (choice_texts.empty()) {
    response->set_answer(result.text);
    response->set_choice_index(-1);
    return;
  }
  const std::vector<ChoiceScore>& scores = result.choices.choices;
  for (size_t i = 0; i < scores.size() && i < choice_texts.size(); ++i) {
    v1::ChoiceScore* score = response->add_choice_scores();
    score->set_text(choice_texts[i]);
    score->set_total_logprob(scores[i].total_logprob);
    score->set_mean_logprob(scores[i].mean_logprob);
    score->set_tokens(static_cast<uint32_t>(i < choice_ids.size() ? choice_ids[i].size() : 0));
  }
  const int best = result.choices.best;
  if (best >= 0 && best < static_cast<int>(choice_texts.size())) {
    response->set_choice_index(best);
    response->set_answer(choice_texts[best]);
  } else {
    response->set_choice_index(-1);
  }
  // The scored choices are the answer; no text was generated.
  response->mutable_final()->set_text(response->answer());
}

void FillModelInfo(const ServiceOptions& options, const PromptLimits& prompt_limits,
                   v1::ModelInfo* info) {
  const ServedModelInfo& model = options.model_info;
  info->set_model_dir(model.model_dir);
  info->set_vision_backbone(model.vision_backbone);
  info->set_text_backbone(model.text_backbone);
  info->set_llm_backbone(model.llm_backbone);
  info->set_dtype(model.dtype);
  info->set_device(model.device);
  info->set_workers(static_cast<uint32_t>(std::max(model.workers, 0)));
  info->set_version(model.version);
  info->set_adapter_layout(model.adapter_layout);

  v1::ModelInfo::Limits* limits = info->mutable_limits();
  limits->set_max_image_bytes(options.limits.max_image_bytes);
  limits->set_max_image_pixels(options.limits.max_image_pixels);
  limits->set_max_prompt_tokens(static_cast<uint32_t>(prompt_limits.max_prompt_tokens));
  limits->set_max_new_tokens(static_cast<uint32_t>(options.limits.max_new_tokens));
  limits->set_max_message_bytes(options.limits.max_message_bytes);
  limits->set_max_choices(static_cast<uint32_t>(prompt_limits.max_choices));

  for (const auto& [name, field] : PromptTemplateFields()) {
    (void)field;
    info->add_templates(name);
  }

  const GenerationDefaults& d = options.defaults;
  v1::GenerationParams* defaults = info->mutable_defaults();
  defaults->set_max_new_tokens(static_cast<uint32_t>(d.sampling.max_new_tokens));
  defaults->set_temperature(static_cast<float>(d.sampling.temperature));
  defaults->set_top_k(static_cast<uint32_t>(d.sampling.top_k));
  defaults->set_top_p(static_cast<float>(d.sampling.top_p));
  defaults->set_repetition_penalty(static_cast<float>(d.sampling.repetition_penalty));
  defaults->set_num_beams(static_cast<uint32_t>(d.num_beams));
  defaults->set_length_penalty(static_cast<float>(d.length_penalty));
  defaults->set_interaction(d.interaction);
}

}  // namespace lmeye
