#include "model/vision/clip_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

// Overrides `*out` with json[key] when present; the value must be an integer.
absl::Status ReadInt(const nlohmann::json& json, const char* key, absl::string_view where,
                     int64_t* out) {
  auto it = json.find(key);
  if (it == json.end()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" must be an integer, got ", it->dump()));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const nlohmann::json& json, const char* key, absl::string_view where,
                        double* out) {
  auto it = json.find(key);
  if (it == json.end()) return absl::OkStatus();
  if (!it->is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" must be a number, got ", it->dump()));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadEncoder(const nlohmann::json& json, absl::string_view where,
                         ClipEncoderConfig* out) {
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "hidden_size", where, &out->hidden_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "intermediate_size", where, &out->intermediate_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "num_hidden_layers", where, &out->n_layers));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "num_attention_heads", where, &out->n_heads));
  LMEYE_RETURN_IF_ERROR(ReadDouble(json, "layer_norm_eps", where, &out->layer_norm_eps));
  auto act = json.find("hidden_act");
  if (act != json.end()) {
    if (!act->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"hidden_act\" must be a string, got ", act->dump()));
    }
    auto parsed = ParseClipActivation(act->get<std::string>());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", parsed.status().message()));
    }
    out->activation = *parsed;
  }
  return absl::OkStatus();
}

absl::StatusOr<ClipVisionConfig> ReadVision(const nlohmann::json& json, absl::string_view where) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a JSON object"));
  }
  ClipVisionConfig c;
  LMEYE_RETURN_IF_ERROR(ReadEncoder(json, where, &c.encoder));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "num_channels", where, &c.n_channels));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "image_size", where, &c.image_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "patch_size", where, &c.patch_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "projection_dim", where, &c.projection_dim));
  return c;
}

absl::StatusOr<ClipTextConfig> ReadText(const nlohmann::json& json, absl::string_view where) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " must be a JSON object"));
  }
  ClipTextConfig c;
  LMEYE_RETURN_IF_ERROR(ReadEncoder(json, where, &c.encoder));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "vocab_size", where, &c.vocab_size));
  LMEYE_RETURN_IF_ERROR(
      ReadInt(json, "max_position_embeddings", where, &c.max_position_embeddings));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "projection_dim", where, &c.projection_dim));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "pad_token_id", where, &c.pad_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "bos_token_id", where, &c.bos_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, "eos_token_id", where, &c.eos_token_id));
  return c;
}

// A nested tower config of a CLIPModel: `key` ("text_config"), or the legacy `key_dict`
// ("text_config_dict") when present. transformers builds a full tower config from `key_dict`
// (defaults included) and updates `key` with all of it, so `key_dict` alone decides. Absent or
// null means all defaults.
nlohmann::json NestedTower(const nlohmann::json& json, const std::string& key) {
  auto legacy = json.find(key + "_dict");
  if (legacy != json.end() && !legacy->is_null()) return *legacy;
  auto base = json.find(key);
  if (base != json.end() && !base->is_null()) return *base;
  return nlohmann::json::object();
}

const char* const kKnownArchitectures[] = {
    "CLIPModel",
    "CLIPVisionModel",
    "CLIPVisionModelWithProjection",
    "CLIPTextModel",
    "CLIPTextModelWithProjection",
};

}  // namespace

absl::StatusOr<ClipActivation> ParseClipActivation(absl::string_view name) {
  if (name == "quick_gelu") return ClipActivation::kQuickGelu;
  if (name == "gelu") return ClipActivation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") {
    return ClipActivation::kGeluTanh;
  }
  if (name == "relu") return ClipActivation::kRelu;
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported hidden_act \"", name,
      "\" (supported: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"));
}

absl::string_view ClipActivationName(ClipActivation activation) {
  switch (activation) {
    case ClipActivation::kQuickGelu:
      return "quick_gelu";
    case ClipActivation::kGelu:
      return "gelu";
    case ClipActivation::kGeluTanh:
      return "gelu_pytorch_tanh";
    case ClipActivation::kRelu:
      return "relu";
  }
  return "?";
}

absl::Status ClipEncoderConfig::Validate() const {
  if (hidden_size <= 0 || intermediate_size <= 0 || n_layers <= 0 || n_heads <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hidden_size (", hidden_size, "), intermediate_size (", intermediate_size,
                     "), num_hidden_layers (", n_layers, ") and num_attention_heads (", n_heads,
                     ") must be positive"));
  }
  if (hidden_size % n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hidden_size ", hidden_size, " is not divisible by num_attention_heads ", n_heads));
  }
  if (!(layer_norm_eps > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer_norm_eps must be positive, got ", layer_norm_eps));
  }
  return absl::OkStatus();
}

absl::Status ClipVisionConfig::Validate() const {
  LMEYE_RETURN_IF_ERROR(encoder.Validate());
  if (n_channels <= 0 || patch_size <= 0 || image_size < patch_size || projection_dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vision config: num_channels (", n_channels, "), patch_size (", patch_size,
                     "), projection_dim (", projection_dim, ") must be positive and image_size (",
                     image_size, ") at least one patch"));
  }
  return absl::OkStatus();
}

absl::Status ClipTextConfig::Validate() const {
  LMEYE_RETURN_IF_ERROR(encoder.Validate());
  if (vocab_size <= 0 || max_position_embeddings <= 0 || projection_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text config: vocab_size (", vocab_size, "), max_position_embeddings (",
        max_position_embeddings, ") and projection_dim (", projection_dim, ") must be positive"));
  }
  if (eos_word_id() < 0 || eos_word_id() >= vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("text config: eos_token_id ", eos_token_id,
                                                   " is outside the vocabulary (vocab_size ",
                                                   vocab_size, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClipConfig> ParseClipConfig(const nlohmann::json& json, absl::string_view source) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is not a JSON object"));
  }
  ClipConfig config;
  std::vector<std::string> architectures;
  auto arch = json.find("architectures");
  if (arch != json.end() && arch->is_array()) {
    for (const auto& a : *arch) {
      if (a.is_string()) architectures.push_back(a.get<std::string>());
    }
  }
  if (!architectures.empty()) {
    bool known = false;
    for (const char* k : kKnownArchitectures) {
      for (const auto& a : architectures) known = known || a == k;
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": unsupported architecture ", absl::StrJoin(architectures, ", "),
          " (a CLIP loader understands ", absl::StrJoin(kKnownArchitectures, ", "), ")"));
    }
    config.architecture = architectures.front();
  }

  std::string model_type;
  auto type = json.find("model_type");
  if (type != json.end() && type->is_string()) model_type = type->get<std::string>();
  if (model_type.empty()) {
    // Very old configs have no model_type: fall back on the architecture.
    if (config.architecture == "CLIPModel") model_type = "clip";
    if (config.architecture.rfind("CLIPVision", 0) == 0) model_type = "clip_vision_model";
    if (config.architecture.rfind("CLIPText", 0) == 0) model_type = "clip_text_model";
  }

  const std::string where(source);
  if (model_type == "clip") {
    config.kind = ClipConfigKind::kClipModel;
    LMEYE_ASSIGN_OR_RETURN(
        config.vision, ReadVision(NestedTower(json, "vision_config"), where + " vision_config"));
    LMEYE_ASSIGN_OR_RETURN(config.text,
                           ReadText(NestedTower(json, "text_config"), where + " text_config"));
    // CLIPModel builds both projections with the top-level projection_dim (default 512),
    // whatever the nested configs say.
    int64_t projection_dim = 512;
    LMEYE_RETURN_IF_ERROR(ReadInt(json, "projection_dim", where, &projection_dim));
    config.vision->projection_dim = projection_dim;
    config.text->projection_dim = projection_dim;
  } else if (model_type == "clip_vision_model") {
    config.kind = ClipConfigKind::kVisionTower;
    LMEYE_ASSIGN_OR_RETURN(config.vision, ReadVision(json, where));
  } else if (model_type == "clip_text_model") {
    config.kind = ClipConfigKind::kTextTower;
    LMEYE_ASSIGN_OR_RETURN(config.text, ReadText(json, where));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unsupported model_type \"", model_type,
                     "\" (a CLIP loader understands clip, clip_vision_model and clip_text_model)"));
  }
  if (config.vision.has_value()) {
    absl::Status s = config.vision->Validate();
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  }
  if (config.text.has_value()) {
    absl::Status s = config.text->Validate();
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  }
  return config;
}

absl::StatusOr<ClipConfig> LoadClipConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  LMEYE_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(path));
  return ParseClipConfig(json, path);
}

}  // namespace lmeye
