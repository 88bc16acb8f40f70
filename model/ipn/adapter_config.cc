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

// The nested object and name of each LingCloud layout.
struct LingcloudLayout {
  AdapterLayout layout;
  const char* name;
  const char* object;
};
constexpr LingcloudLayout kLingcloudLayouts[] = {
    {AdapterLayout::kLingcloudV0, "lingcloud-v0", "lingcloud_v0"},
    {AdapterLayout::kLingcloudV01, "lingcloud-v0.1", "lingcloud_v0_1"},
};

}  // namespace

absl::Status IpnAdapterConfig::Validate() const {
  if (layout == AdapterLayout::kLingcloudV0) {
    LMEYE_RETURN_IF_ERROR(ValidateLingcloudV0Config(lingcloud_v0));
  }
  if (layout == AdapterLayout::kLingcloudV01) {
    LMEYE_RETURN_IF_ERROR(ValidateLingcloudV01Config(lingcloud_v0_1));
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
      "format",  "layout",          "lingcloud_v0",  "lingcloud_v0_1",        "version", "num_fine",
      "combine", "text_projection", "image_feature", "interaction_positions", "vision",  "text",
      "llm"};
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
  const LingcloudLayout* lingcloud = nullptr;
  for (const LingcloudLayout& l : kLingcloudLayouts) {
    if (layout == l.name) lingcloud = &l;
  }
  if (layout != "lmeye" && lingcloud == nullptr) {
    return FieldError("layout", absl::StrCat("is \"", layout,
                                             "\"; expected lmeye, lingcloud-v0 or lingcloud-v0.1"));
  }
  for (const LingcloudLayout& l : kLingcloudLayouts) {
    if (&l != lingcloud && j.contains(l.object)) {
      return FieldError(l.object, absl::StrCat("is only an option of layout \"", l.name, "\""));
    }
  }
  if (lingcloud != nullptr) {
    c.layout = lingcloud->layout;
    // The own layout's options mean nothing to the released ones: refuse them rather than ignore
    // a typo'd mix.
    for (const char* key :
         {"num_fine", "combine", "text_projection", "image_feature", "interaction_positions"}) {
      if (j.contains(key)) {
        return FieldError(key,
                          absl::StrCat("is not an option of layout \"", lingcloud->name, "\""));
      }
    }
    if (!j.contains(lingcloud->object) || !j[lingcloud->object].is_object()) {
      return FieldError(lingcloud->object,
                        absl::StrCat("must be an object (layout \"", lingcloud->name, "\")"));
    }
    const nlohmann::json& object = j[lingcloud->object];
    LMEYE_RETURN_IF_ERROR(c.layout == AdapterLayout::kLingcloudV0
                              ? ParseLingcloudV0Config(object, &c.lingcloud_v0)
                              : ParseLingcloudV01Config(object, &c.lingcloud_v0_1));
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
  for (const LingcloudLayout& l : kLingcloudLayouts) {
    if (c.layout != l.layout) continue;
    nlohmann::ordered_json j = {
        {"format", "lmeye-adapter"},
        {"version", c.version},
        {"layout", l.name},
        {l.object, c.layout == AdapterLayout::kLingcloudV0
                       ? LingcloudV0ConfigToJson(c.lingcloud_v0)
                       : LingcloudV01ConfigToJson(c.lingcloud_v0_1)},
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
