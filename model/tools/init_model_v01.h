// `lmeye init-model --v01-preset NAME`: an LMEye v0.1 model directory (docs/LINGCLOUD.md "LMEye
// v0.1", lingcloud_v01_model.h) with random weights of a LingcloudV01Preset's shape, for tests and
// for benchmarks of the released shapes without the checkpoints:
//
//   DIR/adapter.json         layout "lingcloud-v0.1", the tokenizer's <img-d>/<img-q> ids, CLIP's
//                            <|startoftext|>/<|endoftext|>
//   DIR/adapter.safetensors  the release's 10 `net` names (lingcloud_v01_adapter.h), float32 as
//                            `lmeye import lingcloud` writes them
//   DIR/blip2/               Blip2Config (text_config T5), BlipImageProcessor, the T5 tokenizer
//                            with <img-d>/<img-q> added, vision_model.* + query_tokens + qformer.*
//                            + language_model.* (sharded above max_shard_bytes)
//   DIR/clip/                a CLIPModel of the preset's ClipPreset
//
// Same writer as the decoder-only layout (init_model_writer.h): module-derived names, one chunk in
// memory at a time, a staging directory renamed into place. The T5 table is built on the meta
// device; the EVA ViT is built on the CPU to list its tensors (~4 GB float32 for ViT-g, freed
// before anything is written).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "model/tools/init_model.h"
#include "model/tools/init_model_presets.h"

namespace lmeye {

// Blip2ForConditionalGeneration's config.json with a T5 text_config of `t5_vocab` rows.
nlohmann::json Blip2T5ConfigJson(const LingcloudV01Preset& preset, int64_t t5_vocab,
                                 InitDType dtype);
// BlipImageProcessor's preprocessor_config.json (OpenAI mean/std, bicubic to image_size).
nlohmann::json BlipPreprocessorJson(const LingcloudV01Preset& preset);

// Writes options.out_dir for options.v01_preset. options.tokenizer_dir must hold a T5 tokenizer
// (spiece.model, tokenizer_config.json); its added_tokens.json is kept and <img-d>/<img-q> are
// added after its ids when missing. family, llm_preset, clip_preset, num_fine and image_size are
// not used. Errors as InitModel.
absl::StatusOr<InitModelReport> InitLingcloudV01Model(const InitModelOptions& options);

}  // namespace lmeye
