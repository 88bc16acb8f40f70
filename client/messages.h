// Between the command line and the API: request fields from flags, and responses as text for a
// terminal (or JSON for scripts).
#pragma once

#include <string>

#include "client/client_options.h"
#include "lmeye/v1/lmeye.pb.h"

namespace lmeye::client {

// Sets the GenerationParams fields the flags give; the rest stay unset (server defaults).
void FillGenerationParams(const GenerationFlags& flags, lmeye::v1::GenerationParams* params);

// "stop", "eos", "length", "unspecified".
const char* FinishReasonText(lmeye::v1::FinishReason reason);

// One line: "finish=eos prompt_tokens=21 generated_tokens=7 cached_prompt_tokens=0
// queue=0.001s ttft=0.052s total=0.210s interaction=0.004s image_cache_hit=false".
std::string FormatFinal(const lmeye::v1::Final& final_message);

// "key: value" lines.
std::string FormatModelInfo(const lmeye::v1::ModelInfo& info);

// One line per choice, the chosen one marked with '*':
// "* [0] a red car  total_logprob=-3.21 mean_logprob=-1.07 tokens=3".
std::string FormatChoiceScores(const lmeye::v1::AnswerVQAResponse& response);

// The message as JSON (proto3 JSON mapping, field names as in the proto), one line.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace lmeye::client
