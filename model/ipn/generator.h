// One request at a time, end to end: image bytes -> (image cache) -> CLIP preprocessing ->
// vision -> first pass -> interaction -> second pass -> sampling or beam search, with text
// streamed as it is produced; or multiple-choice scoring. The scheduler (server/) batches the
// same engine phases across requests; this is the simple path for tools, tests and `lmeye
// train`'s evaluation.
//
// Threads: one thread uses a generator at a time (it owns the engine's KV cache). The image
// cache may be shared with other generators.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/generate/choice_scorer.h"
#include "model/generate/generate.h"
#include "model/generate/sampling_params.h"
#include "model/ipn/decoder_engine.h"
#include "model/ipn/image_cache.h"
#include "model/ipn/prompt.h"
#include "model/tokenizer/tokenizer.h"
#include "model/vision/image_preprocess.h"
#include "model/vision/image_probe.h"

namespace lmeye {

struct GenerateRequest {
  std::string image;        // encoded image bytes (JPEG, PNG, WebP, BMP)
  IpnPrompt prompt;         // from PromptBuilder
  bool interaction = true;  // false: IPN* (static visual information only)
  SamplingParams sampling;  // used when num_beams == 1
  int num_beams = 1;        // > 1: beam search (Describe uses 5, as the paper)
  double length_penalty = 1.0;
};

struct GenerateResponse {
  std::string text;
  std::vector<int64_t> tokens;
  FinishReason finish_reason = FinishReason::kNone;
  int n_prompt_positions = 0;  // LLM positions of the prompt: P + image + X (+ slot)
  bool image_cache_hit = false;
};

class LmeyeGenerator {
 public:
  // `model`, `tokenizer` and `image_cache` (may be null: no caching) must outlive the generator.
  static absl::StatusOr<std::unique_ptr<LmeyeGenerator>> Create(LmeyeModel* model,
                                                                const Tokenizer* tokenizer,
                                                                ClipImagePreprocessor preprocessor,
                                                                ImageFeatureCache* image_cache,
                                                                const EngineOptions& engine_options,
                                                                const ImageLimits& limits = {});

  // Generates the answer; `on_text` (may be null) receives the text as it becomes safe to
  // stream. Bad images and parameters are INVALID_ARGUMENT naming the field.
  absl::StatusOr<GenerateResponse> Generate(const GenerateRequest& request,
                                            const TextCallback& on_text = nullptr);

  // Scores each choice's log-likelihood after the prompt (VCR-style multiple choice).
  absl::StatusOr<ChoiceScores> ScoreChoices(const std::string& image, const ChoicePrompt& prompt,
                                            bool interaction = true);

  DecoderIpnEngine& engine() { return *engine_; }

 private:
  LmeyeGenerator(LmeyeModel* model, const Tokenizer* tokenizer, ClipImagePreprocessor preprocessor,
                 ImageFeatureCache* image_cache, std::unique_ptr<DecoderIpnEngine> engine,
                 const ImageLimits& limits)
      : model_(model),
        tokenizer_(tokenizer),
        preprocessor_(std::move(preprocessor)),
        image_cache_(image_cache),
        engine_(std::move(engine)),
        limits_(limits) {}

  // h_I [d_v] of an encoded image, through the cache. *hit tells whether it came from it.
  absl::StatusOr<at::Tensor> ImageFeature(const std::string& image, bool* hit);
  // Runs the prompt phases for one sequence; on success it holds a slot in kReady.
  absl::Status Prefill(IpnSequence& seq);

  LmeyeModel* model_;
  const Tokenizer* tokenizer_;
  ClipImagePreprocessor preprocessor_;
  ImageFeatureCache* image_cache_;
  std::unique_ptr<DecoderIpnEngine> engine_;
  ImageLimits limits_;
};

}  // namespace lmeye
