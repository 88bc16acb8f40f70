// preprocessor_config.json for CLIP-style image processors, as a typed struct.
//
// Follows transformers' CLIPImageProcessor (4.35): keys that are missing take its defaults; the
// legacy CLIPFeatureExtractor spellings (integer "size" = shortest edge, integer "crop_size" =
// square) are accepted. Unknown keys are ignored (HF ignores them too), but a known key with the
// wrong type, a "size" without "shortest_edge", or a processor type other than CLIP's is an error:
// silently preprocessing differently from the checkpoint's training would corrupt every answer.
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/vision/image_resample.h"

namespace lmeye {

struct ImagePreprocessorConfig {
  bool do_resize = true;
  int shortest_edge = 224;  // resize so that min(width, height) == shortest_edge
  ResampleFilter resample = ResampleFilter::kBicubic;
  bool do_center_crop = true;
  int crop_height = 224;
  int crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  // OPENAI_CLIP_MEAN / OPENAI_CLIP_STD from transformers.image_utils.
  std::array<double, 3> image_mean = {0.48145466, 0.4578275, 0.40821073};
  std::array<double, 3> image_std = {0.26862954, 0.26130258, 0.27577711};
  // Always true in effect: DecodeImage produces RGB. Kept so a config that disables it is visible.
  bool do_convert_rgb = true;
};

// Parses the JSON text of a preprocessor_config.json. INVALID_ARGUMENT naming the key on error.
absl::StatusOr<ImagePreprocessorConfig> ParseImagePreprocessorConfig(absl::string_view json);

// Reads and parses `path` (NOT_FOUND if missing); errors are prefixed with the path.
absl::StatusOr<ImagePreprocessorConfig> LoadImagePreprocessorConfig(const std::string& path);

}  // namespace lmeye
