// preprocessor_config.json for CLIP-style image processors, as a typed struct.
//
// Follows transformers' CLIPImageProcessor (4.35): keys that are missing take its defaults; the
// legacy CLIPFeatureExtractor spellings (integer "size" = shortest edge, integer "crop_size" =
// square) are accepted. Unknown keys are ignored (HF ignores them too), but a known key with the
// wrong type, a "size" without "shortest_edge", or a processor type other than CLIP's or BLIP's is
// an error: silently preprocessing differently from the checkpoint's training would corrupt every
// answer.
//
// "image_processor_type": "BlipImageProcessor" (BLIP-2's, transformers 4.29) is the same pipeline
// with another first step: resize straight to size {"height", "width"} (the aspect ratio is not
// kept; an integer size is a square, as HF's get_size_dict(default_to_square=True)) and no center
// crop at all: BlipImageProcessor has no such step, so "do_center_crop" / "crop_size" keys are
// ignored as HF ignores them. Its defaults: 384 x 384, bicubic, OpenAI CLIP mean / std.
#pragma once

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/vision/image_resample.h"

namespace lmeye {

// Which transformers image processor the config describes.
enum class ImageProcessorKind {
  kClip,  // CLIPImageProcessor / CLIPFeatureExtractor: shortest-edge resize, center crop
  kBlip,  // BlipImageProcessor: resize to resize_height x resize_width, no crop
};

struct ImagePreprocessorConfig {
  ImageProcessorKind kind = ImageProcessorKind::kClip;
  bool do_resize = true;
  int shortest_edge = 224;  // kClip: resize so that min(width, height) == shortest_edge
  int resize_height = 384;  // kBlip: the output size ("size": {"height", "width"})
  int resize_width = 384;
  ResampleFilter resample = ResampleFilter::kBicubic;
  bool do_center_crop = true;  // always false for kBlip
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
