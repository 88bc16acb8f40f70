#include "client/messages.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace lmeye::client {

void FillGenerationParams(const GenerationFlags& flags, lmeye::v1::GenerationParams* params) {
  if (flags.max_new_tokens) params->set_max_new_tokens(*flags.max_new_tokens);
  if (flags.temperature) params->set_temperature(*flags.temperature);
  if (flags.top_p) params->set_top_p(*flags.top_p);
  if (flags.top_k) params->set_top_k(*flags.top_k);
  if (flags.repetition_penalty) params->set_repetition_penalty(*flags.repetition_penalty);
  if (flags.seed) params->set_seed(*flags.seed);
  for (const std::string& stop : flags.stop) params->add_stop(stop);
  if (flags.num_beams) params->set_num_beams(*flags.num_beams);
  if (flags.length_penalty) params->set_length_penalty(*flags.length_penalty);
  if (flags.ignore_eos) params->set_ignore_eos(true);
  if (flags.no_interaction) params->set_interaction(false);
}

const char* FinishReasonText(lmeye::v1::FinishReason reason) {
  switch (reason) {
    case lmeye::v1::FINISH_REASON_STOP:
      return "stop";
    case lmeye::v1::FINISH_REASON_EOS:
      return "eos";
    case lmeye::v1::FINISH_REASON_LENGTH:
      return "length";
    default:
      return "unspecified";
  }
}

std::string FormatFinal(const lmeye::v1::Final& f) {
  return absl::StrFormat(
      "finish=%s prompt_tokens=%u generated_tokens=%u cached_prompt_tokens=%u queue=%.3fs "
      "ttft=%.3fs total=%.3fs interaction=%.3fs image_cache_hit=%s",
      FinishReasonText(f.finish_reason()), f.usage().prompt_tokens(), f.usage().generated_tokens(),
      f.usage().cached_prompt_tokens(), f.timings().queue_seconds(),
      f.timings().time_to_first_token_seconds(), f.timings().total_seconds(),
      f.timings().interaction_seconds(), f.image_cache_hit() ? "true" : "false");
}

std::string FormatModelInfo(const lmeye::v1::ModelInfo& info) {
  std::string out;
  auto line = [&out](const char* key, const auto& value) {
    absl::StrAppend(&out, key, ": ", value, "\n");
  };
  line("model_dir", info.model_dir());
  line("version", info.version());
  line("vision_backbone", info.vision_backbone());
  line("text_backbone", info.text_backbone());
  line("llm_backbone", info.llm_backbone());
  line("adapter_layout", info.adapter_layout());
  line("dtype", info.dtype());
  line("device", info.device());
  line("workers", info.workers());
  const auto& l = info.limits();
  line("limits.max_image_bytes", l.max_image_bytes());
  line("limits.max_image_pixels", l.max_image_pixels());
  line("limits.max_prompt_tokens", l.max_prompt_tokens());
  line("limits.max_new_tokens", l.max_new_tokens());
  line("limits.max_message_bytes", l.max_message_bytes());
  line("limits.max_choices", l.max_choices());
  line("templates", absl::StrJoin(info.templates(), ", "));
  line("defaults", ToJson(info.defaults()));
  return out;
}

std::string FormatChoiceScores(const lmeye::v1::AnswerVQAResponse& response) {
  std::string out;
  for (int i = 0; i < response.choice_scores_size(); ++i) {
    const auto& c = response.choice_scores(i);
    absl::StrAppendFormat(&out, "%s [%d] %s  total_logprob=%.4f mean_logprob=%.4f tokens=%u\n",
                          i == response.choice_index() ? "*" : " ", i, c.text(), c.total_logprob(),
                          c.mean_logprob(), c.tokens());
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

}  // namespace lmeye::client
