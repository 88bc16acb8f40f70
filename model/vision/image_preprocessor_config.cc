#include "model/vision/image_preprocessor_config.h"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/file_util.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

using Json = nlohmann::json;

absl::Status KeyError(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("preprocessor config: \"", key, "\" ", what));
}

absl::Status ReadBool(const Json& j, const char* key, bool* out) {
  if (!j.contains(key) || j[key].is_null()) return absl::OkStatus();
  if (!j[key].is_boolean()) return KeyError(key, "must be true or false");
  *out = j[key].get<bool>();
  return absl::OkStatus();
}

absl::Status ReadPositiveInt(const Json& j, const char* key, int* out) {
  if (!j.is_number_integer() || j.get<int64_t>() <= 0 || j.get<int64_t>() > 1 << 16) {
    return KeyError(key, "must be a positive integer (at most 65536)");
  }
  *out = j.get<int>();
  return absl::OkStatus();
}

absl::Status ReadTriple(const Json& j, const char* key, std::array<double, 3>* out) {
  if (!j.contains(key) || j[key].is_null()) return absl::OkStatus();
  const Json& v = j[key];
  if (v.is_number()) {  // HF accepts one number for all channels
    out->fill(v.get<double>());
    return absl::OkStatus();
  }
  if (!v.is_array() || v.size() != 3) return KeyError(key, "must be a number or 3 numbers");
  for (int c = 0; c < 3; ++c) {
    if (!v[c].is_number()) return KeyError(key, "must be a number or 3 numbers");
    (*out)[c] = v[c].get<double>();
  }
  return absl::OkStatus();
}

// BlipImageProcessor's "size": {"height", "width"}, or an integer for a square; absent: 384.
absl::Status ParseBlipSize(const Json& j, ImagePreprocessorConfig* c) {
  if (!j.contains("size") || j["size"].is_null()) return absl::OkStatus();
  const Json& size = j["size"];
  if (!size.is_object()) {
    LMEYE_RETURN_IF_ERROR(ReadPositiveInt(size, "size", &c->resize_height));
    c->resize_width = c->resize_height;
    return absl::OkStatus();
  }
  if (!size.contains("height") || !size.contains("width")) {
    return KeyError("size", absl::StrCat("is ", size.dump(),
                                         "; BlipImageProcessor needs \"height\" and \"width\""));
  }
  LMEYE_RETURN_IF_ERROR(ReadPositiveInt(size["height"], "size.height", &c->resize_height));
  return ReadPositiveInt(size["width"], "size.width", &c->resize_width);
}

}  // namespace

absl::StatusOr<ImagePreprocessorConfig> ParseImagePreprocessorConfig(absl::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("preprocessor config: not a JSON object");
  }
  ImagePreprocessorConfig c;
  for (const char* type_key : {"image_processor_type", "feature_extractor_type"}) {
    if (!j.contains(type_key)) continue;
    const Json& t = j[type_key];
    if (t == "BlipImageProcessor") {
      c.kind = ImageProcessorKind::kBlip;
    } else if (!t.is_string() || (t != "CLIPImageProcessor" && t != "CLIPFeatureExtractor")) {
      return KeyError(type_key, absl::StrCat("is ", t.dump(),
                                             "; only CLIPImageProcessor and BlipImageProcessor "
                                             "preprocessing are implemented"));
    }
  }
  absl::Status s;
  if (c.kind == ImageProcessorKind::kBlip) {
    LMEYE_RETURN_IF_ERROR(ParseBlipSize(j, &c));
  }
  const std::pair<const char*, bool*> flags[] = {{"do_resize", &c.do_resize},
                                                 {"do_center_crop", &c.do_center_crop},
                                                 {"do_rescale", &c.do_rescale},
                                                 {"do_normalize", &c.do_normalize},
                                                 {"do_convert_rgb", &c.do_convert_rgb}};
  for (const auto& [key, field] : flags) {
    if (!(s = ReadBool(j, key, field)).ok()) return s;
  }
  if (c.kind == ImageProcessorKind::kBlip) c.do_center_crop = false;  // no such step in BLIP
  if (c.kind == ImageProcessorKind::kClip && j.contains("size") && !j["size"].is_null()) {
    const Json& size = j["size"];
    if (size.is_object()) {
      if (!size.contains("shortest_edge")) {
        return KeyError("size", absl::StrCat("is ", size.dump(),
                                             "; CLIPImageProcessor needs \"shortest_edge\""));
      }
      if (!(s = ReadPositiveInt(size["shortest_edge"], "size.shortest_edge", &c.shortest_edge))
               .ok()) {
        return s;
      }
    } else if (!(s = ReadPositiveInt(size, "size", &c.shortest_edge)).ok()) {
      return s;
    }
  }
  if (c.kind == ImageProcessorKind::kClip && j.contains("crop_size") && !j["crop_size"].is_null()) {
    const Json& crop = j["crop_size"];
    if (crop.is_object()) {
      if (!crop.contains("height") || !crop.contains("width")) {
        return KeyError("crop_size", "needs \"height\" and \"width\"");
      }
      if (!(s = ReadPositiveInt(crop["height"], "crop_size.height", &c.crop_height)).ok()) return s;
      if (!(s = ReadPositiveInt(crop["width"], "crop_size.width", &c.crop_width)).ok()) return s;
    } else {
      if (!(s = ReadPositiveInt(crop, "crop_size", &c.crop_height)).ok()) return s;
      c.crop_width = c.crop_height;
    }
  }
  if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
    if (!j["rescale_factor"].is_number()) return KeyError("rescale_factor", "must be a number");
    c.rescale_factor = j["rescale_factor"].get<double>();
  }
  if (!(s = ReadTriple(j, "image_mean", &c.image_mean)).ok()) return s;
  if (!(s = ReadTriple(j, "image_std", &c.image_std)).ok()) return s;
  for (double sd : c.image_std) {
    if (sd == 0.0) return KeyError("image_std", "has a zero entry");
  }
  if (j.contains("resample") && !j["resample"].is_null()) {
    const Json& r = j["resample"];
    if (!r.is_number_integer() || r.get<int>() < 1 || r.get<int>() > 5) {
      return KeyError("resample", absl::StrCat("is ", r.dump(),
                                               "; supported: 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, "
                                               "4 BOX, 5 HAMMING (0 NEAREST is not)"));
    }
    c.resample = static_cast<ResampleFilter>(r.get<int>());
  }
  return c;
}

absl::StatusOr<ImagePreprocessorConfig> LoadImagePreprocessorConfig(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  absl::StatusOr<ImagePreprocessorConfig> config = ParseImagePreprocessorConfig(text);
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace lmeye
