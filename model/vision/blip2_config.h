// The image side of a Hugging Face Blip2Config (config.json of Blip2ForConditionalGeneration,
// model_type "blip-2"): `vision_config` (the EVA ViT), `qformer_config` (the Q-Former),
// `num_query_tokens`, and the one number of `text_config` the image side needs: the width of the
// language model, which `language_projection` maps the Q-Former's output to. The language model
// itself (`text_config`, `language_model.*`) is parsed elsewhere.
//
// As with CLIP (clip_config.h), Hugging Face may leave out keys equal to the class defaults, so
// every field starts at the default of transformers' configuration_blip_2.py (the
// Salesforce/blip2-opt-2.7b sizes) and a key present in the JSON overrides it.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/vision/clip_config.h"  // ClipActivation: the same ACT2FN names

namespace lmeye {

// Blip2VisionConfig (model_type "blip_2_vision_model"). Defaults: EVA ViT-g/14.
struct Blip2VisionConfig {
  int64_t hidden_size = 1408;
  int64_t intermediate_size = 6144;
  int64_t n_layers = 39;   // num_hidden_layers
  int64_t n_heads = 16;    // num_attention_heads
  int64_t n_channels = 3;  // num_channels
  int64_t image_size = 224;
  int64_t patch_size = 14;
  ClipActivation activation = ClipActivation::kGelu;  // hidden_act
  // transformers' current default; released checkpoints write the key (the flan-t5 ones 1e-5).
  double layer_norm_eps = 1e-6;
  // false: the fused qkv projection has no bias at all (no q_bias / v_bias tensors).
  bool qkv_bias = true;

  int64_t head_dim() const { return hidden_size / n_heads; }
  // Floor division, as the convolution drops a partial last patch.
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t n_positions() const { return n_patches() + 1; }  // + the class token
  // Positive sizes, hidden_size divisible by n_heads, patch_size <= image_size, eps > 0. Errors
  // name the field ("vision_config.num_attention_heads").
  absl::Status Validate() const;
};

// Blip2QFormerConfig (model_type "blip_2_qformer"). Only what the query path uses: vocab_size,
// max_position_embeddings and pad_token_id belong to the text input it is never given here.
struct Blip2QFormerConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t n_layers = 12;                              // num_hidden_layers
  int64_t n_heads = 12;                               // num_attention_heads
  ClipActivation activation = ClipActivation::kGelu;  // hidden_act
  double layer_norm_eps = 1e-12;
  // Layers whose index is a multiple of this have cross-attention to the image.
  int64_t cross_attention_frequency = 2;
  // Width of the image embeddings the cross-attention keys/values read. Blip2Config overwrites
  // the nested value with vision_config.hidden_size, and so does ParseBlip2Config.
  int64_t encoder_hidden_size = 1408;

  int64_t head_dim() const { return hidden_size / n_heads; }
  bool has_cross_attention(int64_t layer) const { return layer % cross_attention_frequency == 0; }
  // As Blip2VisionConfig::Validate, fields named "qformer_config.<key>".
  absl::Status Validate() const;
};

struct Blip2Config {
  Blip2VisionConfig vision;
  Blip2QFormerConfig qformer;
  int64_t n_query_tokens = 32;  // num_query_tokens
  // text_config's width: d_model for T5 (the Flan-T5 checkpoints), hidden_size otherwise
  // (OPT, the default text_config). The output width of `language_projection`.
  int64_t language_hidden_size = 768;   // OPTConfig().hidden_size; T5Config().d_model is 512
  std::string text_model_type = "opt";  // text_config.model_type

  absl::Status Validate() const;  // the two towers, n_query_tokens and language_hidden_size > 0
};

// Parses a Blip2Config config.json object (model_type "blip-2" when present). Errors
// (INVALID_ARGUMENT) name the file and the key: "config.json: \"qformer_config.hidden_size\" must
// be an integer"; unsupported settings (position_embedding_type other than "absolute", an unknown
// hidden_act) are errors too, since they would compute something else.
absl::StatusOr<Blip2Config> ParseBlip2Config(const nlohmann::json& json,
                                             absl::string_view source = "config.json");
// Reads and parses `dir`/config.json.
absl::StatusOr<Blip2Config> LoadBlip2Config(const std::string& dir);

}  // namespace lmeye
