#include "model/ipn/adapter_config.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("adapter.json: \"", field, "\" ", what));
}

// The "lingcloud_v0" object of a v0 adapter.json, without range checks (Validate's).
absl::Status ParseLingcloudV0(const nlohmann::json& v, LingcloudV0Config* out_config) {
  static const std::set<std::string> kV0Known = {
      "prompt_len",  "query_len",   "img_token_id",       "imgd_token_id",
      "clip_bos_id", "clip_eos_id", "embedding_img_from", "strip_around_image_tokens",
      "add_bos"};
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!kV0Known.count(it.key())) {
      return FieldError(absl::StrCat("lingcloud_v0.", it.key()),
                        "is not a known option of layout \"lingcloud-v0\"");
    }
  }
  LingcloudV0Config& v0 = *out_config;
  auto v0_int = [&](const char* key, int64_t* out) -> absl::Status {
    if (!v.contains(key)) return absl::OkStatus();
    if (!v[key].is_number_integer()) {
      return FieldError(absl::StrCat("lingcloud_v0.", key), "must be an integer");
    }
    *out = v[key].get<int64_t>();
    return absl::OkStatus();
  };
  // Read wide, range-checked by Validate() after narrowing to a value it rejects.
  int64_t prompt_len = v0.prompt_len, query_len = v0.query_len;
  LMEYE_RETURN_IF_ERROR(v0_int("prompt_len", &prompt_len));
  LMEYE_RETURN_IF_ERROR(v0_int("query_len", &query_len));
  v0.prompt_len = static_cast<int>(std::clamp<int64_t>(prompt_len, 0, 1 << 20));
  v0.query_len = static_cast<int>(std::clamp<int64_t>(query_len, 0, 1 << 20));
  LMEYE_RETURN_IF_ERROR(v0_int("img_token_id", &v0.img_token_id));
  LMEYE_RETURN_IF_ERROR(v0_int("imgd_token_id", &v0.imgd_token_id));
  LMEYE_RETURN_IF_ERROR(v0_int("clip_bos_id", &v0.clip_bos_id));
  LMEYE_RETURN_IF_ERROR(v0_int("clip_eos_id", &v0.clip_eos_id));
  if (v.contains("embedding_img_from")) {
    if (!v["embedding_img_from"].is_string()) {
      return FieldError("lingcloud_v0.embedding_img_from", "must be a string");
    }
    v0.embedding_img_from = v["embedding_img_from"].get<std::string>();
  }
  for (const auto& [key, out] :
       {std::pair<const char*, bool*>{"strip_around_image_tokens", &v0.strip_around_image_tokens},
        {"add_bos", &v0.add_bos}}) {
    if (!v.contains(key)) continue;
    if (!v[key].is_boolean()) {
      return FieldError(absl::StrCat("lingcloud_v0.", key), "must be true or false");
    }
    *out = v[key].get<bool>();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status IpnAdapterConfig::Validate() const {
  if (layout == AdapterLayout::kLingcloudV0) {
    const LingcloudV0Config& v0 = lingcloud_v0;
    if (v0.prompt_len < 1 || v0.prompt_len > 64) {
      return FieldError("lingcloud_v0.prompt_len", "must be in [1, 64]");
    }
    if (v0.query_len < 1 || v0.query_len > 64) {
      return FieldError("lingcloud_v0.query_len", "must be in [1, 64]");
    }
    for (const auto& [field, id] :
         {std::pair<const char*, int64_t>{"img_token_id", v0.img_token_id},
          {"imgd_token_id", v0.imgd_token_id},
          {"clip_bos_id", v0.clip_bos_id},
          {"clip_eos_id", v0.clip_eos_id}}) {
      if (id < 0) return FieldError(absl::StrCat("lingcloud_v0.", field), "must be given (>= 0)");
    }
    if (v0.img_token_id == v0.imgd_token_id) {
      return FieldError("lingcloud_v0.imgd_token_id", "must differ from img_token_id");
    }
    if (v0.embedding_img_from != "embedding_imgd" && v0.embedding_img_from != "embedding_img") {
      return FieldError("lingcloud_v0.embedding_img_from",
                        "must be \"embedding_imgd\" (the release) or \"embedding_img\"");
    }
  }
  if (version != 1)
    return FieldError("version", absl::StrCat("is ", version, "; only 1 is supported"));
  if (num_fine < 1 || num_fine > 64) return FieldError("num_fine", "must be in [1, 64]");
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"vision", &vision},
                                     {"text", &text},
                                     {"llm", &llm}}) {
    if (value->empty() || (*value)[0] == '/' || value->find("..") != std::string::npos) {
      return FieldError(field, "must be a relative directory inside the model directory");
    }
  }
  return absl::OkStatus();
}

absl::Status IpnAdapterConfig::CheckTextPositions(int64_t text_positions) const {
  if (interaction_positions && num_fine + 2 > text_positions) {
    return absl::InvalidArgumentError(absl::StrCat("num_fine + 2 = ", num_fine + 2,
                                                   " interaction rows exceed the text tower's ",
                                                   text_positions, " positions"));
  }
  return absl::OkStatus();
}

absl::StatusOr<IpnAdapterConfig> ParseIpnAdapterConfig(const std::string& json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("adapter.json is not a JSON object");
  }
  static const std::set<std::string> kKnown = {
      "format",          "layout",        "lingcloud_v0",          "version", "num_fine", "combine",
      "text_projection", "image_feature", "interaction_positions", "vision",  "text",     "llm"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!kKnown.count(it.key())) return FieldError(it.key(), "is not a known adapter option");
  }
  IpnAdapterConfig c;
  if (j.contains("format") && j["format"] != "lmeye-adapter") {
    return FieldError("format", "must be \"lmeye-adapter\"");
  }
  auto get_int = [&](const char* key, int* out) -> absl::Status {
    if (!j.contains(key)) return absl::OkStatus();
    if (!j[key].is_number_integer()) return FieldError(key, "must be an integer");
    *out = j[key].get<int>();
    return absl::OkStatus();
  };
  auto get_bool = [&](const char* key, bool* out) -> absl::Status {
    if (!j.contains(key)) return absl::OkStatus();
    if (!j[key].is_boolean()) return FieldError(key, "must be true or false");
    *out = j[key].get<bool>();
    return absl::OkStatus();
  };
  auto get_string = [&](const char* key, std::string* out) -> absl::Status {
    if (!j.contains(key)) return absl::OkStatus();
    if (!j[key].is_string()) return FieldError(key, "must be a string");
    *out = j[key].get<std::string>();
    return absl::OkStatus();
  };
  std::string layout = "lmeye";
  LMEYE_RETURN_IF_ERROR(get_string("layout", &layout));
  if (layout == "lmeye") {
    c.layout = AdapterLayout::kLmeye;
    if (j.contains("lingcloud_v0")) {
      return FieldError("lingcloud_v0", "is only an option of layout \"lingcloud-v0\"");
    }
  } else if (layout == "lingcloud-v0") {
    c.layout = AdapterLayout::kLingcloudV0;
    // The own layout's options mean nothing to v0: refuse them rather than ignore a typo'd mix.
    for (const char* key :
         {"num_fine", "combine", "text_projection", "image_feature", "interaction_positions"}) {
      if (j.contains(key)) return FieldError(key, "is not an option of layout \"lingcloud-v0\"");
    }
    if (!j.contains("lingcloud_v0") || !j["lingcloud_v0"].is_object()) {
      return FieldError("lingcloud_v0", "must be an object (layout \"lingcloud-v0\")");
    }
    LMEYE_RETURN_IF_ERROR(ParseLingcloudV0(j["lingcloud_v0"], &c.lingcloud_v0));
  } else {
    return FieldError("layout",
                      absl::StrCat("is \"", layout, "\"; expected lmeye or lingcloud-v0"));
  }
  LMEYE_RETURN_IF_ERROR(get_int("version", &c.version));
  LMEYE_RETURN_IF_ERROR(get_int("num_fine", &c.num_fine));
  LMEYE_RETURN_IF_ERROR(get_bool("text_projection", &c.text_projection));
  LMEYE_RETURN_IF_ERROR(get_bool("interaction_positions", &c.interaction_positions));
  LMEYE_RETURN_IF_ERROR(get_string("vision", &c.vision));
  LMEYE_RETURN_IF_ERROR(get_string("text", &c.text));
  LMEYE_RETURN_IF_ERROR(get_string("llm", &c.llm));
  std::string combine = "replace", feature = "pooled";
  LMEYE_RETURN_IF_ERROR(get_string("combine", &combine));
  LMEYE_RETURN_IF_ERROR(get_string("image_feature", &feature));
  if (combine == "replace") {
    c.combine = IpnCombine::kReplace;
  } else if (combine == "add") {
    c.combine = IpnCombine::kAdd;
  } else {
    return FieldError("combine", absl::StrCat("is \"", combine, "\"; expected replace or add"));
  }
  if (feature == "pooled") {
    c.image_feature = IpnImageFeature::kPooled;
  } else if (feature == "projected") {
    c.image_feature = IpnImageFeature::kProjected;
  } else {
    return FieldError("image_feature",
                      absl::StrCat("is \"", feature, "\"; expected pooled or projected"));
  }
  LMEYE_RETURN_IF_ERROR(c.Validate());
  return c;
}

absl::StatusOr<IpnAdapterConfig> ReadIpnAdapterConfig(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto config = ParseIpnAdapterConfig(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

std::string IpnAdapterConfigToJson(const IpnAdapterConfig& c) {
  if (c.layout == AdapterLayout::kLingcloudV0) {
    const LingcloudV0Config& v0 = c.lingcloud_v0;
    nlohmann::ordered_json j = {
        {"format", "lmeye-adapter"},
        {"version", c.version},
        {"layout", "lingcloud-v0"},
        {"lingcloud_v0",
         {{"prompt_len", v0.prompt_len},
          {"query_len", v0.query_len},
          {"img_token_id", v0.img_token_id},
          {"imgd_token_id", v0.imgd_token_id},
          {"clip_bos_id", v0.clip_bos_id},
          {"clip_eos_id", v0.clip_eos_id},
          {"embedding_img_from", v0.embedding_img_from},
          {"strip_around_image_tokens", v0.strip_around_image_tokens},
          {"add_bos", v0.add_bos}}},
        {"vision", c.vision},
        {"text", c.text},
        {"llm", c.llm},
    };
    return j.dump(2) + "\n";
  }
  nlohmann::json j = {
      {"format", "lmeye-adapter"},
      {"version", c.version},
      {"num_fine", c.num_fine},
      {"combine", c.combine == IpnCombine::kReplace ? "replace" : "add"},
      {"text_projection", c.text_projection},
      {"image_feature", c.image_feature == IpnImageFeature::kPooled ? "pooled" : "projected"},
      {"interaction_positions", c.interaction_positions},
      {"vision", c.vision},
      {"text", c.text},
      {"llm", c.llm},
  };
  return j.dump(2) + "\n";
}

}  // namespace lmeye
