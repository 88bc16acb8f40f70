// What the Lmeye service is configured with: request limits, generation defaults and the
// description of the served model that GetModelInfo returns. Plain values; the server config
// (server/modes/config.h) holds the limits and defaults as its sections. No proto types
// (proto_convert.h maps them to the API).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/generate/sampling_params.h"

namespace lmeye {

// Checked by the service before anything is queued. The prompt-token and choice limits live in
// the PromptBuilder (PromptLimits); decoded pixels are checked by the worker, which decodes.
struct ServiceLimits {
  uint64_t max_image_bytes = 20 << 20;     // ChatRequest.image etc.: INVALID_ARGUMENT "image"
  uint64_t max_image_pixels = 50'000'000;  // reported by GetModelInfo; enforced by the worker
  // params.max_new_tokens above it: INVALID_ARGUMENT. 1024: scheduler.max_sequence_positions'
  // default, the most a sequence could generate anyway.
  int max_new_tokens = 1024;
  int max_num_beams = 16;                 // params.num_beams above it: INVALID_ARGUMENT
  uint64_t max_message_bytes = 32 << 20;  // reported; the server enforces it (grpc_server.h)

  absl::Status Validate() const;
};

// Used for every GenerationParams field a request leaves unset.
struct GenerationDefaults {
  // SamplingParams' own defaults (greedy, top-k and top-p off, no penalty), except that a request
  // gets up to 128 new tokens, not the library's 16: room for a sentence-long answer.
  GenerationDefaults() { sampling.max_new_tokens = 128; }

  // temperature, top_k, top_p, repetition_penalty, max_new_tokens; stop, seed and eos ids are
  // per request only (eos ids are filled by the worker).
  SamplingParams sampling;
  int num_beams = 1;           // Chat and AnswerVQA
  int describe_num_beams = 5;  // Describe and DescribeStream (the paper's beam 5)
  // AnswerVQA; 0: num_beams, unless the model's layout has a QA setting of its own (the released
  // LMEye v0 answers with beam 5), which the server fills in.
  int vqa_num_beams = 0;
  double length_penalty = 1.0;
  bool interaction = true;  // false serves IPN* by default

  absl::Status Validate() const;
};

// GetModelInfo's description of the served model (limits and defaults come from the options).
struct ServedModelInfo {
  std::string model_dir;
  std::string vision_backbone;  // e.g. "clip-vit h=768 layers=12 image=224 patch=32"
  std::string text_backbone;
  std::string llm_backbone;  // e.g. "opt h=768 layers=12 vocab=50272"
  std::string dtype;         // "fp32", "bf16", "fp16"
  std::string device;        // "cpu", "cuda:0"
  int workers = 1;
  std::string version;
  std::string adapter_layout;  // "lmeye", "lingcloud-v0", "lingcloud-v0.1"
};

struct ServiceOptions {
  ServiceLimits limits;
  GenerationDefaults defaults;
  ServedModelInfo model_info;

  absl::Status Validate() const;
};

}  // namespace lmeye
