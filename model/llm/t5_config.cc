#include "model/llm/t5_config.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

using json = nlohmann::json;

absl::Status TypeError(const std::string& key, const char* expected, const json& v) {
  return absl::InvalidArgumentError(
      absl::StrCat("T5 config: \"", key, "\" must be ", expected, ", got ", v.dump()));
}

// The value of `key` when present and not null; `out` keeps its default otherwise.
absl::Status GetInt(const json& config, const std::string& key, int64_t* out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
  } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()) {
    *out = static_cast<int64_t>(it->get<double>());  // some configs write 512.0
  } else {
    return TypeError(key, "an integer", *it);
  }
  return absl::OkStatus();
}

absl::Status GetDouble(const json& config, const std::string& key, double* out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) return TypeError(key, "a number", *it);
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status GetBool(const json& config, const std::string& key, bool* out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return TypeError(key, "a boolean", *it);
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status GetString(const json& config, const std::string& key, std::string* out) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) return TypeError(key, "a string", *it);
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::StatusOr<T5Activation> ParseActivation(const std::string& name, const std::string& key) {
  if (name == "relu") return T5Activation::kRelu;
  if (name == "gelu") return T5Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return T5Activation::kGeluTanh;
  if (name == "silu" || name == "swish") return T5Activation::kSilu;
  return absl::InvalidArgumentError(
      absl::StrCat("T5 config: \"", key, "\" = \"", name,
                   "\" is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, silu)"));
}

}  // namespace

absl::StatusOr<T5Config> ParseT5Config(const json& config) {
  if (!config.is_object()) return absl::InvalidArgumentError("T5 config is not a JSON object");
  std::string model_type = "t5";
  LMEYE_RETURN_IF_ERROR(GetString(config, "model_type", &model_type));
  if (model_type != "t5") {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 config: \"model_type\" is \"", model_type, "\", not \"t5\""));
  }
  T5Config c;
  LMEYE_RETURN_IF_ERROR(GetInt(config, "vocab_size", &c.vocab_size));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "d_model", &c.d_model));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "d_kv", &c.d_kv));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "d_ff", &c.d_ff));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "num_heads", &c.n_heads));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "num_layers", &c.n_layers));
  c.n_decoder_layers = c.n_layers;
  LMEYE_RETURN_IF_ERROR(GetInt(config, "num_decoder_layers", &c.n_decoder_layers));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "relative_attention_num_buckets", &c.num_buckets));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "relative_attention_max_distance", &c.max_distance));
  LMEYE_RETURN_IF_ERROR(GetDouble(config, "layer_norm_epsilon", &c.norm_eps));
  LMEYE_RETURN_IF_ERROR(GetBool(config, "tie_word_embeddings", &c.tie_word_embeddings));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "pad_token_id", &c.pad_token_id));
  LMEYE_RETURN_IF_ERROR(GetInt(config, "eos_token_id", &c.eos_token_id));
  // HF generate starts from pad when decoder_start_token_id is unset; T5's pad is 0.
  c.decoder_start_token_id = c.pad_token_id;
  LMEYE_RETURN_IF_ERROR(GetInt(config, "decoder_start_token_id", &c.decoder_start_token_id));

  // T5Config derives dense_act_fn and is_gated_act from feed_forward_proj ("relu", "gated-gelu",
  // ...; gated-gelu means gelu_new), but keys stored in the file override the derived values
  // (PretrainedConfig sets every remaining kwarg), so they do here too.
  std::string ff = "relu";
  LMEYE_RETURN_IF_ERROR(GetString(config, "feed_forward_proj", &ff));
  std::vector<std::string> parts = absl::StrSplit(ff, '-');
  if (parts.size() > 2 || (parts.size() == 2 && parts[0] != "gated") || parts.back().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 config: \"feed_forward_proj\" = \"", ff,
                     "\" is not supported (`relu`, `gelu`, `gated-gelu`, `gated-<act>`)"));
  }
  c.gated = parts.size() == 2;
  std::string act = ff == "gated-gelu" ? "gelu_new" : parts.back();
  const bool own_act = config.contains("dense_act_fn") && !config["dense_act_fn"].is_null();
  const std::string act_key = own_act ? "dense_act_fn" : "feed_forward_proj";
  LMEYE_RETURN_IF_ERROR(GetString(config, "dense_act_fn", &act));
  LMEYE_RETURN_IF_ERROR(GetBool(config, "is_gated_act", &c.gated));
  LMEYE_ASSIGN_OR_RETURN(c.activation, ParseActivation(act, act_key));

  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", c.vocab_size},
      {"d_model", c.d_model},
      {"d_kv", c.d_kv},
      {"d_ff", c.d_ff},
      {"num_heads", c.n_heads},
      {"num_layers", c.n_layers},
      {"num_decoder_layers", c.n_decoder_layers},
      {"relative_attention_num_buckets", c.num_buckets},
      {"relative_attention_max_distance", c.max_distance}};
  for (const auto& [key, value] : sizes) {
    if (value <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("T5 config: \"", key, "\" must be > 0, got ", value));
    }
  }
  // The bucketing gives half the buckets (per direction in the encoder) to exact distances
  // and the rest to log-spaced ones up to max_distance: it needs at least 2 per direction.
  if (c.num_buckets < 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "T5 config: \"relative_attention_num_buckets\" must be >= 4, got ", c.num_buckets));
  }
  if (c.max_distance <= c.num_buckets / 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 config: \"relative_attention_max_distance\" (", c.max_distance,
                     ") must exceed relative_attention_num_buckets / 4"));
  }
  if (c.norm_eps <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("T5 config: \"layer_norm_epsilon\" must be > 0, got ", c.norm_eps));
  }
  for (const auto& [key, id] : {std::pair<const char*, int64_t>{"pad_token_id", c.pad_token_id},
                                {"eos_token_id", c.eos_token_id},
                                {"decoder_start_token_id", c.decoder_start_token_id}}) {
    if (id < 0 || id >= c.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "T5 config: \"", key, "\" = ", id, " is outside the vocabulary [0, ", c.vocab_size, ")"));
    }
  }
  return c;
}

absl::StatusOr<T5Config> LoadT5Config(const std::string& dir, std::string* prefix) {
  const std::string path = dir + "/config.json";
  LMEYE_ASSIGN_OR_RETURN(json config, ReadJsonFile(path));
  std::string local_prefix;
  const json* t5 = &config;
  if (config.is_object() && config.value("model_type", std::string()) == "blip-2") {
    auto text = config.find("text_config");
    if (text == config.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a Blip2Config without text_config"));
    }
    t5 = &*text;
    local_prefix = "language_model.";
  }
  absl::StatusOr<T5Config> c = ParseT5Config(*t5);
  if (!c.ok()) {
    return absl::Status(c.status().code(), absl::StrCat(path, ": ", c.status().message()));
  }
  if (prefix != nullptr) *prefix = local_prefix;
  return c;
}

}  // namespace lmeye
