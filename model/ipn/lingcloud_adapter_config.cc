// The "lingcloud_v0" and "lingcloud_v0_1" objects of adapter.json (adapter_config.h).
#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/ipn/adapter_config.h"

namespace lmeye {
namespace {

absl::Status FieldError(absl::string_view object, absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("adapter.json: \"", object, ".", key, "\" ", what));
}

// Refuses keys outside `known`: a typo must not silently mean a default.
absl::Status CheckKnown(const nlohmann::json& v, absl::string_view object, absl::string_view layout,
                        const std::set<std::string>& known) {
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!known.count(it.key())) {
      return FieldError(object, it.key(),
                        absl::StrCat("is not a known option of layout \"", layout, "\""));
    }
  }
  return absl::OkStatus();
}

// Typed readers of an optional key; the value is left alone when the key is absent.
absl::Status ReadInt(const nlohmann::json& v, absl::string_view object, const char* key,
                     int64_t* out) {
  if (!v.contains(key)) return absl::OkStatus();
  if (!v[key].is_number_integer()) return FieldError(object, key, "must be an integer");
  *out = v[key].get<int64_t>();
  return absl::OkStatus();
}

// A count read wide and narrowed to a value Validate() rejects when out of range.
absl::Status ReadCount(const nlohmann::json& v, absl::string_view object, const char* key,
                       int* out) {
  int64_t wide = *out;
  LMEYE_RETURN_IF_ERROR(ReadInt(v, object, key, &wide));
  *out = static_cast<int>(std::clamp<int64_t>(wide, 0, 1 << 20));
  return absl::OkStatus();
}

absl::Status ReadString(const nlohmann::json& v, absl::string_view object, const char* key,
                        std::string* out) {
  if (!v.contains(key)) return absl::OkStatus();
  if (!v[key].is_string()) return FieldError(object, key, "must be a string");
  *out = v[key].get<std::string>();
  return absl::OkStatus();
}

absl::Status ReadBool(const nlohmann::json& v, absl::string_view object, const char* key,
                      bool* out) {
  if (!v.contains(key)) return absl::OkStatus();
  if (!v[key].is_boolean()) return FieldError(object, key, "must be true or false");
  *out = v[key].get<bool>();
  return absl::OkStatus();
}

// Every id must be given (the import writes them all).
absl::Status CheckIdsGiven(absl::string_view object,
                           std::initializer_list<std::pair<const char*, int64_t>> ids) {
  for (const auto& [field, id] : ids) {
    if (id < 0) return FieldError(object, field, "must be given (>= 0)");
  }
  return absl::OkStatus();
}

constexpr char kV0[] = "lingcloud_v0";
constexpr char kV01[] = "lingcloud_v0_1";

}  // namespace

absl::Status ParseLingcloudV0Config(const nlohmann::json& v, LingcloudV0Config* config) {
  LMEYE_RETURN_IF_ERROR(CheckKnown(
      v, kV0, "lingcloud-v0",
      {"prompt_len", "query_len", "img_token_id", "imgd_token_id", "clip_bos_id", "clip_eos_id",
       "embedding_img_from", "strip_around_image_tokens", "add_bos", "first_pass_hidden"}));
  LingcloudV0Config& c = *config;
  LMEYE_RETURN_IF_ERROR(ReadCount(v, kV0, "prompt_len", &c.prompt_len));
  LMEYE_RETURN_IF_ERROR(ReadCount(v, kV0, "query_len", &c.query_len));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV0, "img_token_id", &c.img_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV0, "imgd_token_id", &c.imgd_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV0, "clip_bos_id", &c.clip_bos_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV0, "clip_eos_id", &c.clip_eos_id));
  LMEYE_RETURN_IF_ERROR(ReadString(v, kV0, "embedding_img_from", &c.embedding_img_from));
  LMEYE_RETURN_IF_ERROR(
      ReadBool(v, kV0, "strip_around_image_tokens", &c.strip_around_image_tokens));
  LMEYE_RETURN_IF_ERROR(ReadBool(v, kV0, "add_bos", &c.add_bos));
  return ReadString(v, kV0, "first_pass_hidden", &c.first_pass_hidden);
}

absl::Status ValidateLingcloudV0Config(const LingcloudV0Config& c) {
  if (c.prompt_len < 1 || c.prompt_len > 64) {
    return FieldError(kV0, "prompt_len", "must be in [1, 64]");
  }
  if (c.query_len < 1 || c.query_len > 64)
    return FieldError(kV0, "query_len", "must be in [1, 64]");
  LMEYE_RETURN_IF_ERROR(CheckIdsGiven(kV0, {{"img_token_id", c.img_token_id},
                                            {"imgd_token_id", c.imgd_token_id},
                                            {"clip_bos_id", c.clip_bos_id},
                                            {"clip_eos_id", c.clip_eos_id}}));
  if (c.img_token_id == c.imgd_token_id) {
    return FieldError(kV0, "imgd_token_id", "must differ from img_token_id");
  }
  if (c.embedding_img_from != "embedding_imgd" && c.embedding_img_from != "embedding_img") {
    return FieldError(kV0, "embedding_img_from",
                      "must be \"embedding_imgd\" (the release) or \"embedding_img\"");
  }
  if (c.first_pass_hidden != "final_norm" && c.first_pass_hidden != "pre_norm") {
    return FieldError(kV0, "first_pass_hidden", "must be \"final_norm\" or \"pre_norm\"");
  }
  return absl::OkStatus();
}

nlohmann::ordered_json LingcloudV0ConfigToJson(const LingcloudV0Config& c) {
  return {{"prompt_len", c.prompt_len},
          {"query_len", c.query_len},
          {"img_token_id", c.img_token_id},
          {"imgd_token_id", c.imgd_token_id},
          {"clip_bos_id", c.clip_bos_id},
          {"clip_eos_id", c.clip_eos_id},
          {"embedding_img_from", c.embedding_img_from},
          {"strip_around_image_tokens", c.strip_around_image_tokens},
          {"add_bos", c.add_bos},
          {"first_pass_hidden", c.first_pass_hidden}};
}

absl::Status ParseLingcloudV01Config(const nlohmann::json& v, LingcloudV01Config* config) {
  LMEYE_RETURN_IF_ERROR(CheckKnown(
      v, kV01, "lingcloud-v0.1",
      {"imgd_len", "imgd_token_id", "imgq_token_id", "clip_bos_id", "clip_eos_id", "clip_rows"}));
  LingcloudV01Config& c = *config;
  LMEYE_RETURN_IF_ERROR(ReadCount(v, kV01, "imgd_len", &c.imgd_len));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV01, "imgd_token_id", &c.imgd_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV01, "imgq_token_id", &c.imgq_token_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV01, "clip_bos_id", &c.clip_bos_id));
  LMEYE_RETURN_IF_ERROR(ReadInt(v, kV01, "clip_eos_id", &c.clip_eos_id));
  return ReadString(v, kV01, "clip_rows", &c.clip_rows);
}

absl::Status ValidateLingcloudV01Config(const LingcloudV01Config& c) {
  if (c.imgd_len < 1 || c.imgd_len > 64) return FieldError(kV01, "imgd_len", "must be in [1, 64]");
  LMEYE_RETURN_IF_ERROR(CheckIdsGiven(kV01, {{"imgd_token_id", c.imgd_token_id},
                                             {"imgq_token_id", c.imgq_token_id},
                                             {"clip_bos_id", c.clip_bos_id},
                                             {"clip_eos_id", c.clip_eos_id}}));
  if (c.imgd_token_id == c.imgq_token_id) {
    return FieldError(kV01, "imgq_token_id", "must differ from imgd_token_id");
  }
  if (c.clip_rows != "last" && c.clip_rows != "request") {
    return FieldError(kV01, "clip_rows", "must be \"last\" (the release) or \"request\"");
  }
  return absl::OkStatus();
}

nlohmann::ordered_json LingcloudV01ConfigToJson(const LingcloudV01Config& c) {
  return {{"imgd_len", c.imgd_len},           {"imgd_token_id", c.imgd_token_id},
          {"imgq_token_id", c.imgq_token_id}, {"clip_bos_id", c.clip_bos_id},
          {"clip_eos_id", c.clip_eos_id},     {"clip_rows", c.clip_rows}};
}

}  // namespace lmeye
