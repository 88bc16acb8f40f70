#include "model/vision/blip2_config.h"

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

using Json = nlohmann::json;

// Keys are named by their path from the config root ("qformer_config.hidden_size"), so a message
// points at the exact line of config.json.
absl::Status FieldError(absl::string_view section, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", section, section.empty() ? "" : ".", key, "\" ", what));
}

absl::Status ReadInt(const Json& json, absl::string_view section, const char* key, int64_t* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number_integer()) {
    return FieldError(section, key, absl::StrCat("must be an integer, got ", it->dump()));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const Json& json, absl::string_view section, const char* key, double* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) {
    return FieldError(section, key, absl::StrCat("must be a number, got ", it->dump()));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& json, absl::string_view section, const char* key, bool* out) {
  auto it = json.find(key);
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return FieldError(section, key, absl::StrCat("must be true or false, got ", it->dump()));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadActivation(const Json& json, absl::string_view section, ClipActivation* out) {
  auto it = json.find("hidden_act");
  if (it == json.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return FieldError(section, "hidden_act", absl::StrCat("must be a string, got ", it->dump()));
  }
  absl::StatusOr<ClipActivation> parsed = ParseClipActivation(it->get<std::string>());
  if (!parsed.ok()) return FieldError(section, "hidden_act", parsed.status().message());
  *out = *parsed;
  return absl::OkStatus();
}

// The checks both towers share; `section` prefixes the field names.
absl::Status ValidateSizes(absl::string_view section, int64_t hidden, int64_t intermediate,
                           int64_t n_layers, int64_t n_heads, double eps) {
  const std::pair<const char*, int64_t> sizes[] = {{"hidden_size", hidden},
                                                   {"intermediate_size", intermediate},
                                                   {"num_hidden_layers", n_layers},
                                                   {"num_attention_heads", n_heads}};
  for (const auto& [key, value] : sizes) {
    if (value <= 0) return FieldError(section, key, absl::StrCat("must be positive, got ", value));
  }
  if (hidden % n_heads != 0) {
    return FieldError(section, "num_attention_heads",
                      absl::StrCat("(", n_heads, ") must divide hidden_size (", hidden, ")"));
  }
  if (!(eps > 0)) {
    return FieldError(section, "layer_norm_eps", absl::StrCat("must be positive, got ", eps));
  }
  return absl::OkStatus();
}

absl::Status ReadVision(const Json& json, Blip2VisionConfig* c) {
  constexpr absl::string_view s = "vision_config";
  if (!json.is_object()) return FieldError("", s, "must be a JSON object");
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "hidden_size", &c->hidden_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "intermediate_size", &c->intermediate_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "num_hidden_layers", &c->n_layers));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "num_attention_heads", &c->n_heads));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "num_channels", &c->n_channels));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "image_size", &c->image_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "patch_size", &c->patch_size));
  LMEYE_RETURN_IF_ERROR(ReadDouble(json, s, "layer_norm_eps", &c->layer_norm_eps));
  LMEYE_RETURN_IF_ERROR(ReadBool(json, s, "qkv_bias", &c->qkv_bias));
  return ReadActivation(json, s, &c->activation);
}

absl::Status ReadQFormer(const Json& json, Blip2QFormerConfig* c) {
  constexpr absl::string_view s = "qformer_config";
  if (!json.is_object()) return FieldError("", s, "must be a JSON object");
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "hidden_size", &c->hidden_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "intermediate_size", &c->intermediate_size));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "num_hidden_layers", &c->n_layers));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "num_attention_heads", &c->n_heads));
  LMEYE_RETURN_IF_ERROR(ReadDouble(json, s, "layer_norm_eps", &c->layer_norm_eps));
  LMEYE_RETURN_IF_ERROR(
      ReadInt(json, s, "cross_attention_frequency", &c->cross_attention_frequency));
  LMEYE_RETURN_IF_ERROR(ReadInt(json, s, "encoder_hidden_size", &c->encoder_hidden_size));
  LMEYE_RETURN_IF_ERROR(ReadActivation(json, s, &c->activation));
  // Relative position types add learned distance terms to the self-attention scores; no
  // released BLIP-2 uses them and they are not implemented.
  auto pos = json.find("position_embedding_type");
  if (pos != json.end() && !pos->is_null() && *pos != "absolute") {
    return FieldError(s, "position_embedding_type",
                      absl::StrCat("is ", pos->dump(), "; only \"absolute\" is supported"));
  }
  return absl::OkStatus();
}

// The text model's width: what language_projection outputs.
absl::Status ReadTextWidth(const Json& json, Blip2Config* c) {
  constexpr absl::string_view s = "text_config";
  if (!json.is_object()) return FieldError("", s, "must be a JSON object");
  auto type = json.find("model_type");
  if (type != json.end() && !type->is_null()) {
    if (!type->is_string()) return FieldError(s, "model_type", "must be a string");
    c->text_model_type = type->get<std::string>();
  }
  if (c->text_model_type == "t5") {
    c->language_hidden_size = 512;  // T5Config default
    return ReadInt(json, s, "d_model", &c->language_hidden_size);
  }
  if (c->text_model_type != "opt" && !json.contains("hidden_size")) {
    return FieldError(s, "hidden_size",
                      absl::StrCat("is needed for text model_type \"", c->text_model_type,
                                   "\" (the width language_projection maps to)"));
  }
  return ReadInt(json, s, "hidden_size", &c->language_hidden_size);
}

// A nested config: absent or null means all defaults, as Blip2Config does.
const Json& Nested(const Json& json, const char* key) {
  static const Json* const kEmpty = new Json(Json::object());
  auto it = json.find(key);
  return it == json.end() || it->is_null() ? *kEmpty : *it;
}

}  // namespace

absl::Status Blip2VisionConfig::Validate() const {
  constexpr absl::string_view s = "vision_config";
  LMEYE_RETURN_IF_ERROR(
      ValidateSizes(s, hidden_size, intermediate_size, n_layers, n_heads, layer_norm_eps));
  if (n_channels <= 0) return FieldError(s, "num_channels", "must be positive");
  if (patch_size <= 0) return FieldError(s, "patch_size", "must be positive");
  if (image_size < patch_size) {
    return FieldError(s, "image_size",
                      absl::StrCat("(", image_size, ") must hold one patch (", patch_size, ")"));
  }
  return absl::OkStatus();
}

absl::Status Blip2QFormerConfig::Validate() const {
  constexpr absl::string_view s = "qformer_config";
  LMEYE_RETURN_IF_ERROR(
      ValidateSizes(s, hidden_size, intermediate_size, n_layers, n_heads, layer_norm_eps));
  if (cross_attention_frequency <= 0) {
    return FieldError(s, "cross_attention_frequency", "must be positive");
  }
  if (encoder_hidden_size <= 0) return FieldError(s, "encoder_hidden_size", "must be positive");
  return absl::OkStatus();
}

absl::Status Blip2Config::Validate() const {
  LMEYE_RETURN_IF_ERROR(vision.Validate());
  LMEYE_RETURN_IF_ERROR(qformer.Validate());
  if (n_query_tokens <= 0) return FieldError("", "num_query_tokens", "must be positive");
  if (language_hidden_size <= 0) {
    return FieldError("text_config", text_model_type == "t5" ? "d_model" : "hidden_size",
                      "must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<Blip2Config> ParseBlip2Config(const Json& json, absl::string_view source) {
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  };
  if (!json.is_object()) return fail(absl::InvalidArgumentError("not a JSON object"));
  auto type = json.find("model_type");
  if (type != json.end() && *type != "blip-2") {
    return fail(
        FieldError("", "model_type", absl::StrCat("is ", type->dump(), ", not \"blip-2\"")));
  }
  Blip2Config c;
  absl::Status s = ReadVision(Nested(json, "vision_config"), &c.vision);
  if (s.ok()) s = ReadQFormer(Nested(json, "qformer_config"), &c.qformer);
  if (s.ok()) s = ReadTextWidth(Nested(json, "text_config"), &c);
  if (s.ok()) s = ReadInt(json, "", "num_query_tokens", &c.n_query_tokens);
  // What Blip2Config.__init__ does, whatever the nested value says.
  c.qformer.encoder_hidden_size = c.vision.hidden_size;
  if (s.ok()) s = c.Validate();
  if (!s.ok()) return fail(s);
  return c;
}

absl::StatusOr<Blip2Config> LoadBlip2Config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  LMEYE_ASSIGN_OR_RETURN(Json json, ReadJsonFile(path));
  return ParseBlip2Config(json, path);
}

}  // namespace lmeye
