// CLIP image preprocessing: decoded RGB pixels -> the pixel_values tensor the vision tower takes.
//
// Reproduces transformers' CLIPImageProcessor.preprocess (4.35) step by step:
//   1. resize so the shortest edge is `shortest_edge`, the long edge
//      int(shortest_edge * long / short) (truncated, as HF's get_resize_output_image_size), with
//      PIL's resampling on uint8 (HF converts the array to a PIL image, resizes and converts back,
//      so the result is rounded to uint8 here too): see image_resample.h;
//   2. center crop with HF's offsets top = (h - crop_h) // 2, left = (w - crop_w) // 2 (floor;
//      torchvision's CenterCrop rounds instead and can be one pixel off); an image smaller than
//      the crop is zero-padded exactly as HF pads (zeros before rescale/normalise);
//   3. rescale: float32(double(v) * rescale_factor), as numpy's float64 multiply then astype;
//   4. normalise: (x - float32(mean)) / float32(std) in float32.
// Steps 3-4 are computed per 8-bit value once (a 256-entry table per channel), so the output is
// bit-identical to numpy's. Only the crop region of the resize is computed.
// Verified: uint8 crops identical to Pillow 9.4 on every fixture photo and variant (except the
// CMYK JPEG's colour conversion, 1 level), float pixel_values identical to transformers' (max
// abs diff 0) on the tiny model config: image_golden_test, image_preprocess_test.
//
// BlipImageProcessor (config kind kBlip, BLIP-2) is the same with step 1 a plain resize to
// {resize_height, resize_width} through the same PIL resampler, and no step 2.
//
// Inputs come from DecodeImage: CV_8UC3 RGB, EXIF already applied (HF does not apply EXIF; see
// image_exif.h). The preprocessor is immutable after construction and thread-safe.
#pragma once

#include <array>
#include <string>

#include <ATen/ATen.h>
#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/vision/image_preprocessor_config.h"

namespace lmeye {

class ClipImagePreprocessor {
 public:
  // Validates `config` (sizes positive, filter supported) and precomputes the value tables.
  static absl::StatusOr<ClipImagePreprocessor> Create(const ImagePreprocessorConfig& config);
  // LoadImagePreprocessorConfig(path) + Create.
  static absl::StatusOr<ClipImagePreprocessor> FromFile(const std::string& path);

  const ImagePreprocessorConfig& config() const { return config_; }

  // Steps 1-2 only: the uint8 RGB image (CV_8UC3) the model will see, before rescale and
  // normalise. [crop_h, crop_w] with do_center_crop, else the resized size (for BLIP
  // [resize_height, resize_width]).
  absl::StatusOr<cv::Mat> ResizeAndCrop(const cv::Mat& rgb) const;

  // All steps: float32 [3, H, W] (contiguous, CPU). INVALID_ARGUMENT if `rgb` is not a non-empty
  // CV_8UC3 image.
  absl::StatusOr<at::Tensor> Preprocess(const cv::Mat& rgb) const;

  // float32 [B, 3, H, W] for B >= 1 images. Without center crop the images must resize to the same
  // size (INVALID_ARGUMENT otherwise, as HF's stacking would fail).
  absl::StatusOr<at::Tensor> PreprocessBatch(absl::Span<const cv::Mat> images) const;

 private:
  explicit ClipImagePreprocessor(const ImagePreprocessorConfig& config);

  // Fills `out` (float32 [3, H, W]) from the uint8 RGB `image` through the value tables.
  void Normalize(const cv::Mat& image, float* out) const;

  ImagePreprocessorConfig config_;
  std::array<std::array<float, 256>, 3> table_;  // [channel][uint8 value] -> output value
};

}  // namespace lmeye
