// Pillow-compatible image resampling (Image.resize with a convolution filter).
//
// Why not cv::resize: CLIP checkpoints were trained and evaluated on images resized by PIL, and
// OpenCV's resizers are different functions:
//   * INTER_CUBIC uses the Keys kernel with a = -0.75 (PIL: a = -0.5) and never widens the kernel
//     when downscaling, so a 1411 -> 224 resize samples 4 of every ~6.3 source pixels and
//     aliases, where PIL filters over the whole footprint (support scaled by the downscale
//     factor: ~25 taps);
//   * INTER_LINEAR has the same aliasing with a 2-tap kernel;
//   * INTER_AREA averages the footprint but with a box kernel (and acts as bilinear when
//     upscaling);
//   * all use 11-bit fixed-point weights (PIL: 22-bit) and the same pixel-centre convention, so
//     the differences above are the filter, not an offset.
// Measured by image_golden_test against Pillow 9.4 on the fixture photos (shortest edge 224,
// crop 224; max abs difference, uint8 levels / pixel_values after CLIP normalisation):
//   INTER_CUBIC 21-172 / 0.32-2.52, INTER_LINEAR 14-158 / 0.20-2.37, INTER_AREA 7-30 / 0.10-0.45;
//   this implementation: 0 / 0 on every photo (bit-exact).
//
// What is reproduced (Pillow 9.x, libImaging/Resample.c, 8-bit images):
//   * per output pixel: center = (x + 0.5) * scale, support = filter_support * max(scale, 1),
//     taps [(int)(center - support + 0.5), (int)(center + support + 0.5)) clipped to the image,
//     weights filter((tap - center + 0.5) / max(scale, 1)) normalised to sum 1;
//   * weights converted to fixed point with 22 fraction bits, rounded half away from zero;
//   * horizontal pass first into an 8-bit intermediate (rounded: +2^21, >> 22, clamped to
//     0..255), then the vertical pass the same way; a pass whose size does not change is skipped.
#pragma once

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include "absl/status/statusor.h"

namespace lmeye {

// PIL's Image.Resampling numbers, as preprocessor_config.json stores them in "resample".
enum class ResampleFilter {
  kNearest = 0,  // not a convolution in PIL (affine transform); not supported here
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5,
};

// Resizes `src` (CV_8UC1 or CV_8UC3, any channel order) to `out_size` as PIL's
// image.resize(out_size, filter) would, but computes only the output pixels inside `roi` (output
// coordinates; must lie inside out_size) and returns a roi.size() matrix of the same type.
// Each output pixel of PIL's resampling depends only on its own coordinates, so the region is
// exactly the corresponding part of the full resize: a center crop costs the crop, not the whole
// resized image (which for a 16000x1 panorama scaled to a 224 shortest edge would be ~2.4 GB).
// INVALID_ARGUMENT for an unsupported type or filter, empty sizes, or a roi outside out_size.
absl::StatusOr<cv::Mat> ResizeLikePil(const cv::Mat& src, cv::Size out_size, ResampleFilter filter,
                                      cv::Rect roi);

// Whole-image convenience: ResizeLikePil(src, out_size, filter, {0, 0, out_size}).
absl::StatusOr<cv::Mat> ResizeLikePil(const cv::Mat& src, cv::Size out_size, ResampleFilter filter);

}  // namespace lmeye
