#include "model/llm/llm_config.h"

#include <cmath>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"
#include "model/llm/llm_arch.h"

namespace lmeye {
namespace {

using json = nlohmann::json;

std::string SupportedList() {
  std::vector<std::string> parts;
  for (const LlmArch& a : AllLlmArchs()) {
    parts.push_back(absl::StrCat(a.model_type, " (", absl::StrJoin(a.architectures, ", "), ")"));
  }
  return absl::StrJoin(parts, "; ");
}

// Field values after applying the family's key table: field name -> (JSON value, source key).
class Resolved {
 public:
  absl::Status Resolve(const json& config, const LlmArch& arch) {
    for (const LlmConfigKey& k : arch.config_keys) {
      bool found = false;
      for (const std::string& key : k.keys) {
        auto it = config.find(key);
        if (it != config.end() && !it->is_null()) {
          values_[k.field] = *it;
          sources_[k.field] = key;
          found = true;
          break;
        }
      }
      if (!found) {
        values_[k.field] = k.default_value;
        sources_[k.field] = absl::StrCat(k.keys.empty() ? k.field : k.keys.front(), " (default)");
      }
    }
    // Defaults that refer to other fields ("=hidden_size", "=4*hidden_size").
    for (auto& [field, value] : values_) {
      if (!value.is_string()) continue;
      std::string s = value.get<std::string>();
      if (!absl::StartsWith(s, "=")) continue;
      int64_t factor = 1;
      s = s.substr(1);
      if (absl::StartsWith(s, "4*")) {
        factor = 4;
        s = s.substr(2);
      }
      auto ref = values_.find(s);
      if (ref == values_.end()) return absl::InternalError(absl::StrCat("bad default for ", field));
      if (!ref->second.is_number_integer()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "config.json: \"", sources_[s], "\" must be an integer, got ", ref->second.dump()));
      }
      value = ref->second.get<int64_t>() * factor;
    }
    return absl::OkStatus();
  }

  const json& Get(const std::string& field) const { return values_.at(field); }
  const std::string& Source(const std::string& field) const { return sources_.at(field); }

  absl::StatusOr<int64_t> Int(const std::string& field) const {
    const json& v = Get(field);
    if (v.is_number_integer()) return v.get<int64_t>();
    // Some configs write integers as floats (e.g. 4096.0).
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) {
      return static_cast<int64_t>(v.get<double>());
    }
    return TypeError(field, "an integer");
  }
  absl::StatusOr<double> Double(const std::string& field) const {
    const json& v = Get(field);
    if (v.is_number()) return v.get<double>();
    return TypeError(field, "a number");
  }
  absl::StatusOr<bool> Bool(const std::string& field) const {
    const json& v = Get(field);
    if (v.is_boolean()) return v.get<bool>();
    return TypeError(field, "a boolean");
  }
  absl::StatusOr<std::string> String(const std::string& field) const {
    const json& v = Get(field);
    if (v.is_string()) return v.get<std::string>();
    return TypeError(field, "a string");
  }
  // -1 when null.
  absl::StatusOr<int64_t> OptionalId(const std::string& field) const {
    if (Get(field).is_null()) return -1;
    return Int(field);
  }

  absl::Status TypeError(const std::string& field, const char* expected) const {
    return absl::InvalidArgumentError(absl::StrCat("config.json: \"", Source(field), "\" must be ",
                                                   expected, ", got ", Get(field).dump()));
  }

 private:
  std::map<std::string, json> values_;
  std::map<std::string, std::string> sources_;
};

absl::StatusOr<LlmActivation> ParseActivation(const std::string& name, const std::string& key) {
  if (name == "relu") return LlmActivation::kRelu;
  if (name == "gelu") return LlmActivation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return LlmActivation::kGeluTanh;
  if (name == "bloom_gelu") return LlmActivation::kBloomGelu;
  if (name == "silu" || name == "swish") return LlmActivation::kSilu;
  return absl::InvalidArgumentError(
      absl::StrCat("config.json: \"", key, "\" = \"", name,
                   "\" is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, silu)"));
}

absl::Status ParseRopeScaling(const json& v, LlmConfig& c) {
  if (v.is_null()) return absl::OkStatus();
  if (!v.is_object()) {
    return absl::InvalidArgumentError("config.json: \"rope_scaling\" must be null or an object");
  }
  std::string type = v.value("type", v.value("rope_type", std::string()));
  auto factor = v.find("factor");
  if (type != "linear" || factor == v.end() || !factor->is_number() || factor->get<double>() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: rope_scaling ", v.dump(),
                     " is not supported (only {\"type\": \"linear\", \"factor\": f > 0})"));
  }
  c.rope_linear_factor = factor->get<double>();
  return absl::OkStatus();
}

absl::Status ParseEos(const json& v, LlmConfig& c) {
  if (v.is_null()) return absl::OkStatus();
  if (v.is_number_integer()) {
    c.eos_token_ids.push_back(v.get<int64_t>());
    return absl::OkStatus();
  }
  if (v.is_array()) {
    for (const json& e : v) {
      if (!e.is_number_integer()) break;
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
    if (c.eos_token_ids.size() == v.size()) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "config.json: \"eos_token_id\" must be an integer or a list of integers, got ", v.dump()));
}

absl::Status Validate(const LlmConfig& c) {
  auto positive = [](int64_t v, const char* name) -> absl::Status {
    if (v > 0) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("config.json: ", name, " must be > 0, got ", v));
  };
  LMEYE_RETURN_IF_ERROR(positive(c.vocab_size, "vocab_size"));
  LMEYE_RETURN_IF_ERROR(positive(c.hidden_size, "hidden_size"));
  LMEYE_RETURN_IF_ERROR(positive(c.embed_dim, "embed_dim (word_embed_proj_dim)"));
  LMEYE_RETURN_IF_ERROR(positive(c.n_layers, "number of layers"));
  LMEYE_RETURN_IF_ERROR(positive(c.n_heads, "number of attention heads"));
  LMEYE_RETURN_IF_ERROR(positive(c.n_kv_heads, "num_key_value_heads"));
  LMEYE_RETURN_IF_ERROR(positive(c.ffn_dim, "ffn/intermediate size"));
  if (c.hidden_size % c.n_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("config.json: hidden_size ", c.hidden_size,
                                                   " is not divisible by ", c.n_heads, " heads"));
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("config.json: num_attention_heads ", c.n_heads,
                                                   " is not divisible by num_key_value_heads ",
                                                   c.n_kv_heads));
  }
  if (c.positions == LlmPositions::kRope && c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError("config.json: RoPE needs an even head dimension");
  }
  if (c.positions == LlmPositions::kLearned) {
    LMEYE_RETURN_IF_ERROR(positive(c.max_positions, "max_position_embeddings"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* LlmFamilyName(LlmFamily family) {
  switch (family) {
    case LlmFamily::kOpt:
      return "opt";
    case LlmFamily::kBloom:
      return "bloom";
    case LlmFamily::kLlama:
      return "llama";
  }
  return "?";
}

absl::StatusOr<LlmConfig> ParseLlmConfig(const json& config) {
  if (!config.is_object()) return absl::InvalidArgumentError("config.json is not a JSON object");
  LlmConfig c;
  auto mt = config.find("model_type");
  if (mt != config.end() && mt->is_string()) c.model_type = mt->get<std::string>();
  std::vector<std::string> architectures;
  auto archs = config.find("architectures");
  if (archs != config.end() && archs->is_array()) {
    for (const json& a : *archs) {
      if (a.is_string()) architectures.push_back(a.get<std::string>());
    }
  }
  if (!architectures.empty()) c.architecture = architectures.front();

  const LlmArch* arch = nullptr;
  for (const LlmArch& a : AllLlmArchs()) {
    bool arch_match = false;
    for (const std::string& name : a.architectures) arch_match |= name == c.architecture;
    if (c.model_type == a.model_type || (c.model_type.empty() && arch_match)) arch = &a;
  }
  if (arch == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.json: unsupported causal LM (model_type \"", c.model_type, "\", architectures [",
        absl::StrJoin(architectures, ", "), "]); supported: ", SupportedList()));
  }
  if (!c.architecture.empty()) {
    bool ok = false;
    for (const std::string& name : arch->architectures) ok |= name == c.architecture;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.json: architecture \"", c.architecture, "\" of model_type \"", arch->model_type,
          "\" is not supported (a causal LM with an lm_head is needed: ",
          absl::StrJoin(arch->architectures, ", "), ")"));
    }
  }
  if (c.model_type.empty()) c.model_type = arch->model_type;
  c.family = arch->family;
  c.norm = arch->norm;
  c.positions = arch->positions;
  c.gated_mlp = arch->gated_mlp;
  c.fused_qkv = arch->fused_qkv;
  c.embed_norm = arch->embed_norm;

  Resolved r;
  LMEYE_RETURN_IF_ERROR(r.Resolve(config, *arch));
  LMEYE_ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size"));
  LMEYE_ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size"));
  LMEYE_ASSIGN_OR_RETURN(c.embed_dim, r.Int("embed_dim"));
  LMEYE_ASSIGN_OR_RETURN(c.n_layers, r.Int("n_layers"));
  LMEYE_ASSIGN_OR_RETURN(c.n_heads, r.Int("n_heads"));
  LMEYE_ASSIGN_OR_RETURN(c.n_kv_heads, r.Int("n_kv_heads"));
  LMEYE_ASSIGN_OR_RETURN(c.ffn_dim, r.Int("ffn_dim"));
  LMEYE_ASSIGN_OR_RETURN(c.max_positions, r.Int("max_positions"));
  LMEYE_ASSIGN_OR_RETURN(c.norm_eps, r.Double("norm_eps"));
  LMEYE_ASSIGN_OR_RETURN(c.norm_affine, r.Bool("norm_affine"));
  LMEYE_ASSIGN_OR_RETURN(c.norm_before, r.Bool("norm_before"));
  LMEYE_ASSIGN_OR_RETURN(bool remove_final_norm, r.Bool("remove_final_norm"));
  // OPT-350m (post-norm) and pre-v4.20 fine-tunes have no final layer norm (HF OPTDecoder).
  c.final_norm = c.norm_before && !remove_final_norm;
  LMEYE_ASSIGN_OR_RETURN(c.residual_post_norm, r.Bool("residual_post_norm"));
  LMEYE_ASSIGN_OR_RETURN(std::string activation, r.String("activation"));
  LMEYE_ASSIGN_OR_RETURN(c.activation, ParseActivation(activation, r.Source("activation")));
  LMEYE_ASSIGN_OR_RETURN(c.attn_bias, r.Bool("attn_bias"));
  LMEYE_ASSIGN_OR_RETURN(c.mlp_bias, r.Bool("mlp_bias"));
  LMEYE_ASSIGN_OR_RETURN(c.rope_theta, r.Double("rope_theta"));
  LMEYE_RETURN_IF_ERROR(ParseRopeScaling(r.Get("rope_scaling"), c));
  LMEYE_ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings"));
  LMEYE_ASSIGN_OR_RETURN(c.bos_token_id, r.OptionalId("bos_token_id"));
  LMEYE_ASSIGN_OR_RETURN(c.pad_token_id, r.OptionalId("pad_token_id"));
  LMEYE_RETURN_IF_ERROR(ParseEos(r.Get("eos_token_id"), c));
  c.head_dim = c.n_heads > 0 ? c.hidden_size / c.n_heads : 0;
  if (c.fused_qkv && c.n_kv_heads != c.n_heads) {
    return absl::InvalidArgumentError(
        "config.json: fused query_key_value needs n_kv_heads == n_heads");
  }
  LMEYE_RETURN_IF_ERROR(Validate(c));
  return c;
}

absl::StatusOr<LlmConfig> LoadLlmConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  LMEYE_ASSIGN_OR_RETURN(json config, ReadJsonFile(path));
  absl::StatusOr<LlmConfig> c = ParseLlmConfig(config);
  if (!c.ok()) {
    return absl::Status(c.status().code(), absl::StrCat(path, ": ", c.status().message()));
  }
  return c;
}

}  // namespace lmeye
