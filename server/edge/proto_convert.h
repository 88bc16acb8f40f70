// Proto <-> native conversion for the Lmeye API: the only code that reads request protos
// (docs/STYLE.md 6). Requests become InferenceRequests (validated, prompt tokenized); results
// become response protos. Every error is INVALID_ARGUMENT with a message that starts with the
// proto field it blames ("params.temperature must be ...", "messages[1].role: ...", "image: ..."),
// except a prompt over the token limit (max_prompt_tokens): RESOURCE_EXHAUSTED, as the API says,
// still naming the field ("messages[0].text", "question", "choices[2]").
//
// Threading: free functions over const inputs; call from any thread.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lmeye/v1/lmeye.pb.h"
#include "model/ipn/prompt.h"
#include "server/edge/service_options.h"
#include "server/runtime/inference.h"

namespace lmeye {

// What a GenerationParams message resolves to once the server defaults fill its unset fields.
struct GenerationSettings {
  SamplingParams sampling;
  int num_beams = 1;
  double length_penalty = 1.0;
  bool interaction = true;
};

// `default_num_beams`: the RPC's default (Describe: defaults.describe_num_beams, else
// defaults.num_beams). An unset num_beams with temperature > 0 means 1: beam search is greedy by
// nature, so sampling asked for explicitly wins over the RPC's beam default.
absl::StatusOr<GenerationSettings> ConvertGenerationParams(const v1::GenerationParams& params,
                                                           int default_num_beams,
                                                           const GenerationDefaults& defaults,
                                                           const ServiceLimits& limits);

// "image": empty where `required`, or over limits.max_image_bytes. The bytes are decoded (and
// checked) by the worker.
absl::Status CheckImage(const std::string& image, bool required, const ServiceLimits& limits);

absl::StatusOr<InferenceRequest> ChatToInference(const v1::ChatRequest& request,
                                                 const PromptBuilder& prompts,
                                                 const ServiceOptions& options);

// `rpc`: "Describe" or "DescribeStream" (the request's rpc label).
absl::StatusOr<InferenceRequest> DescribeToInference(const v1::DescribeRequest& request,
                                                     absl::string_view rpc,
                                                     const PromptBuilder& prompts,
                                                     const ServiceOptions& options);

// With choices: kScoreChoices (request.choices holds each choice's ids); else kGenerate.
absl::StatusOr<InferenceRequest> AnswerVqaToInference(const v1::AnswerVQARequest& request,
                                                      const PromptBuilder& prompts,
                                                      const ServiceOptions& options);

v1::FinishReason ToProtoFinishReason(FinishReason reason);

// finish reason, usage, timings, text, image cache hit.
void FillFinal(const InferenceResult& result, v1::Final* final_message);

void FillDescribeResponse(const InferenceResult& result, v1::DescribeResponse* response);

// `choice_texts`: the request's choices (empty for a generated answer). With choices, `answer`
// is the best choice by total log-likelihood (ChoiceScores::best) and every score is listed.
void FillAnswerVqaResponse(const InferenceResult& result,
                           const std::vector<std::string>& choice_texts,
                           const std::vector<std::vector<int>>& choice_ids,
                           v1::AnswerVQAResponse* response);

void FillModelInfo(const ServiceOptions& options, const PromptLimits& prompt_limits,
                   v1::ModelInfo* info);

}  // namespace lmeye
