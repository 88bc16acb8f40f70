#include "model/vision/image_preprocess.h"

#include <cstdint>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/common/torch_status.h"
#include "model/vision/image_resample.h"

namespace lmeye {
namespace {

// Python's // (floor division), which HF's crop offsets use; C++'s / truncates toward zero.
int FloorDiv(int a, int b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// transformers' get_resize_output_image_size(default_to_square=False) for an int size:
// the short side becomes `shortest_edge`, the long side int(shortest_edge * long / short).
cv::Size ShortestEdgeSize(cv::Size in, int shortest_edge) {
  const bool portrait = in.width <= in.height;
  const int short_side = portrait ? in.width : in.height;
  const int long_side = portrait ? in.height : in.width;
  // Both products are exact in double and the division is correctly rounded, like Python's.
  const int new_long =
      static_cast<int>(static_cast<double>(int64_t{shortest_edge} * long_side) / short_side);
  return portrait ? cv::Size(shortest_edge, new_long) : cv::Size(new_long, shortest_edge);
}

absl::Status CheckRgb(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    return absl::InvalidArgumentError(
        absl::StrCat("image preprocessing needs a non-empty 8-bit RGB image (CV_8UC3), got ",
                     rgb.cols, "x", rgb.rows, " type ", rgb.type()));
  }
  return absl::OkStatus();
}

}  // namespace

ClipImagePreprocessor::ClipImagePreprocessor(const ImagePreprocessorConfig& config)
    : config_(config) {
  for (int c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(config_.image_mean[c]);
    const float std = static_cast<float>(config_.image_std[c]);
    for (int v = 0; v < 256; ++v) {
      // float64 multiply then cast, as HF's rescale(); then float32 arithmetic as its normalize().
      float x = config_.do_rescale ? static_cast<float>(v * config_.rescale_factor)
                                   : static_cast<float>(v);
      if (config_.do_normalize) x = (x - mean) / std;
      table_[c][v] = x;
    }
  }
}

absl::StatusOr<ClipImagePreprocessor> ClipImagePreprocessor::Create(
    const ImagePreprocessorConfig& config) {
  if (config.shortest_edge <= 0 || config.crop_height <= 0 || config.crop_width <= 0 ||
      config.resize_height <= 0 || config.resize_width <= 0) {
    return absl::InvalidArgumentError("preprocessor sizes must be positive");
  }
  if (config.do_resize && config.resample == ResampleFilter::kNearest) {
    return absl::InvalidArgumentError("resample NEAREST is not supported");
  }
  for (double sd : config.image_std) {
    if (sd == 0.0) return absl::InvalidArgumentError("image_std has a zero entry");
  }
  return ClipImagePreprocessor(config);
}

absl::StatusOr<ClipImagePreprocessor> ClipImagePreprocessor::FromFile(const std::string& path) {
  LMEYE_ASSIGN_OR_RETURN(ImagePreprocessorConfig config, LoadImagePreprocessorConfig(path));
  return Create(config);
}

absl::StatusOr<cv::Mat> ClipImagePreprocessor::ResizeAndCrop(const cv::Mat& rgb) const {
  LMEYE_RETURN_IF_ERROR(CheckRgb(rgb));
  cv::Size resized = rgb.size();
  if (config_.do_resize) {
    resized = config_.kind == ImageProcessorKind::kBlip
                  ? cv::Size(config_.resize_width, config_.resize_height)
                  : ShortestEdgeSize(rgb.size(), config_.shortest_edge);
  }
  // A long side that truncates to 0 (e.g. 1x100000 with shortest_edge 1) has no HF behaviour
  // worth copying: PIL would refuse the size.
  if (resized.width <= 0 || resized.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", rgb.cols, "x", rgb.rows, " resizes to an empty image"));
  }
  const cv::Rect full(cv::Point(0, 0), resized);
  // Output pixel (y, x) is resized pixel (y + top, x + left); zeros where that is outside.
  cv::Rect window = full;
  if (config_.do_center_crop) {
    window = cv::Rect(FloorDiv(resized.width - config_.crop_width, 2),
                      FloorDiv(resized.height - config_.crop_height, 2), config_.crop_width,
                      config_.crop_height);
  }
  const cv::Rect roi = window & full;
  cv::Mat out = cv::Mat::zeros(window.size(), CV_8UC3);
  if (roi.empty()) return out;
  cv::Mat region;
  if (config_.do_resize) {
    LMEYE_ASSIGN_OR_RETURN(region, ResizeLikePil(rgb, resized, config_.resample, roi));
  } else {
    region = rgb(roi);
  }
  region.copyTo(out(cv::Rect(roi.x - window.x, roi.y - window.y, roi.width, roi.height)));
  return out;
}

void ClipImagePreprocessor::Normalize(const cv::Mat& image, float* out) const {
  const int64_t plane = int64_t{image.rows} * image.cols;
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(y);
    for (int x = 0; x < image.cols; ++x) {
      const int64_t i = int64_t{y} * image.cols + x;
      for (int c = 0; c < 3; ++c) out[c * plane + i] = table_[c][row[3 * x + c]];
    }
  }
}

absl::StatusOr<at::Tensor> ClipImagePreprocessor::Preprocess(const cv::Mat& rgb) const {
  LMEYE_ASSIGN_OR_RETURN(cv::Mat image, ResizeAndCrop(rgb));
  return GuardTorch("image preprocessing", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor out = at::empty({3, image.rows, image.cols}, at::kFloat);  // [3, H, W]
    Normalize(image, out.data_ptr<float>());
    return out;
  });
}

absl::StatusOr<at::Tensor> ClipImagePreprocessor::PreprocessBatch(
    absl::Span<const cv::Mat> images) const {
  if (images.empty()) return absl::InvalidArgumentError("empty image batch");
  std::vector<cv::Mat> crops;
  crops.reserve(images.size());
  for (size_t b = 0; b < images.size(); ++b) {
    absl::StatusOr<cv::Mat> crop = ResizeAndCrop(images[b]);
    if (!crop.ok()) {
      return absl::Status(crop.status().code(),
                          absl::StrCat("image ", b, " of the batch: ", crop.status().message()));
    }
    if (!crops.empty() && crop->size() != crops.front().size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image ", b, " preprocesses to ", crop->cols, "x", crop->rows, ", image 0 to ",
          crops.front().cols, "x", crops.front().rows, " (enable center crop to batch them)"));
    }
    crops.push_back(*std::move(crop));
  }
  const int height = crops.front().rows, width = crops.front().cols;
  return GuardTorch("image preprocessing", [&]() -> absl::StatusOr<at::Tensor> {
    at::Tensor out = at::empty({static_cast<int64_t>(crops.size()), 3, height, width},
                               at::kFloat);  // [B, 3, H, W]
    float* data = out.data_ptr<float>();
    for (size_t b = 0; b < crops.size(); ++b) {
      Normalize(crops[b], data + static_cast<int64_t>(b) * 3 * height * width);
    }
    return out;
  });
}

}  // namespace lmeye
