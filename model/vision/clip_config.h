// Hugging Face CLIP configs: a full `CLIPModel` config.json (model_type "clip", with nested
// `vision_config` / `text_config`) or a separate tower config (`CLIPVisionConfig`, model_type
// "clip_vision_model"; `CLIPTextConfig`, model_type "clip_text_model").
//
// Hugging Face writes only the values that differ from the defaults of the transformers class
// (nested tower configs especially), so every field here starts at the transformers default and a
// key in the JSON overrides it. The defaults are those of transformers' configuration_clip.py
// (openai/clip-vit-base-patch32 sizes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// The MLP non-linearity (config key `hidden_act`).
enum class ClipActivation {
  kQuickGelu,  // "quick_gelu": x * sigmoid(1.702 x), what OpenAI's CLIP was trained with
  kGelu,       // "gelu": exact (erf) GELU
  kGeluTanh,   // "gelu_new", "gelu_pytorch_tanh", "gelu_fast": tanh approximation
  kRelu,       // "relu"
};

absl::StatusOr<ClipActivation> ParseClipActivation(absl::string_view name);
absl::string_view ClipActivationName(ClipActivation activation);

// The pre-layernorm transformer encoder both towers share.
struct ClipEncoderConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t n_layers = 0;  // num_hidden_layers
  int64_t n_heads = 0;   // num_attention_heads
  ClipActivation activation = ClipActivation::kQuickGelu;
  double layer_norm_eps = 1e-5;

  int64_t head_dim() const { return hidden_size / n_heads; }
  // Positive sizes, hidden_size divisible by n_heads, positive eps.
  absl::Status Validate() const;
};

struct ClipVisionConfig {
  // Defaults: hidden 768, intermediate 3072, 12 layers, 12 heads, quick_gelu, eps 1e-5.
  ClipEncoderConfig encoder{768, 3072, 12, 12, ClipActivation::kQuickGelu, 1e-5};
  int64_t n_channels = 3;  // num_channels
  int64_t image_size = 224;
  int64_t patch_size = 32;
  // Width of `visual_projection`. For a full CLIPModel this is the top-level projection_dim
  // (that is what CLIPModel builds its projections with), not the nested one.
  int64_t projection_dim = 512;

  // As in transformers: floor division, the convolution drops a partial last patch.
  int64_t n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int64_t n_positions() const { return n_patches() + 1; }  // + the class token
  absl::Status Validate() const;
};

struct ClipTextConfig {
  // Defaults: hidden 512, intermediate 2048, 12 layers, 8 heads, quick_gelu, eps 1e-5.
  ClipEncoderConfig encoder{512, 2048, 12, 8, ClipActivation::kQuickGelu, 1e-5};
  int64_t vocab_size = 49408;
  int64_t max_position_embeddings = 77;
  int64_t projection_dim = 512;  // width of `text_projection` (see ClipVisionConfig)
  int64_t pad_token_id = 1;
  int64_t bos_token_id = 49406;
  int64_t eos_token_id = 49407;

  // Configs written before transformers PR #24773 (openai/clip-vit-*: eos_token_id 2) carry a
  // wrong eos id. For them transformers pools at argmax(input_ids) (the EOS word is the highest id
  // of the vocabulary) and the EOS word is vocab_size - 1; otherwise it pools at the first
  // position holding eos_token_id.
  bool legacy_eos() const { return eos_token_id == 2; }
  // The id of the EOS word (`<|endoftext|>`), whose embedding fills the IPN's last interaction
  // slot: vocab_size - 1 under the legacy rule, eos_token_id otherwise.
  int64_t eos_word_id() const { return legacy_eos() ? vocab_size - 1 : eos_token_id; }
  absl::Status Validate() const;  // also: eos_word_id() inside the vocabulary
};

// What a config.json describes.
enum class ClipConfigKind {
  kClipModel,    // model_type "clip": both towers, vision_model.* and text_model.*
  kVisionTower,  // model_type "clip_vision_model"
  kTextTower,    // model_type "clip_text_model"
};

struct ClipConfig {
  ClipConfigKind kind = ClipConfigKind::kClipModel;
  std::string architecture;                // architectures[0], or "" when absent
  std::optional<ClipVisionConfig> vision;  // set for kClipModel and kVisionTower
  std::optional<ClipTextConfig> text;      // set for kClipModel and kTextTower
};

// Parses a config.json object. Errors (INVALID_ARGUMENT, naming the key): a model_type or
// architecture that is not CLIP, a key of the wrong JSON type, sizes that cannot build a model.
// The legacy `text_config_dict` / `vision_config_dict` keys, when present, replace
// `text_config` / `vision_config` (transformers expands them with defaults and overwrites).
// `source` names the file in messages.
absl::StatusOr<ClipConfig> ParseClipConfig(const nlohmann::json& json,
                                           absl::string_view source = "config.json");
// Reads and parses `dir`/config.json.
absl::StatusOr<ClipConfig> LoadClipConfig(const std::string& dir);

}  // namespace lmeye
