// Our decode + PIL-style resize + center crop against PIL itself (pixel_goldens.safetensors, made
// by tests/data/images/make_pixel_goldens.py with Pillow 9.4.0), and how far OpenCV's own
// resizers would be from it.
//
// Measured (max abs difference; uint8 levels before normalisation / pixel_values after rescale +
// CLIP normalisation; one level is 1/255 before normalisation, at most 0.0150 after):
//   image@crop                                 ours     cv_cubic      cv_area    cv_linear
//   chelsea.png@224                      0 / 0.0000  21 / 0.3152  12 / 0.1706  14 / 0.1991
//   astronaut.jpg@224                    0 / 0.0000  85 / 1.2757  22 / 0.3302  70 / 1.0505
//   coffee.jpg@224                       0 / 0.0000  87 / 1.3057  18 / 0.2560  55 / 0.8254
//   rocket.jpg@224                       0 / 0.0000  96 / 1.4014  20 / 0.2920  63 / 0.8959
//   grace_hopper.jpg@224                 0 / 0.0000 105 / 1.5758  22 / 0.3302  85 / 1.2757
//   raccoon_face.jpg@224                 0 / 0.0000  77 / 1.1556  14 / 0.2101  61 / 0.9155
//   retina.jpg@224                       0 / 0.0000  39 / 0.5693   7 / 0.1022  33 / 0.4817
//   coins.png@224                        0 / 0.0000  38 / 0.5703  14 / 0.2101  30 / 0.4502
//   exif_orientation_6.jpg@224           0 / 0.0000 172 / 2.5213  30 / 0.4502 158 / 2.3712
//   variants/chelsea_cmyk.jpg@64         1 / 0.0150  36 / 0.5255   9 / 0.1314  30 / 0.4352
//   variants/coffee_strip_600x12.jpg@64  0 / 0.0000   4 / 0.0569  24 / 0.3413   4 / 0.0569
//   every other variant@64               0 / 0.0000  33-48        7-9          26-40
// so ours is bit-exact with PIL except for the CMYK JPEG's colour conversion (image_decode.h);
// the decoders (libjpeg-turbo, libpng, libwebp) give PIL's pixels exactly. Full table in the
// test log (ctest -V -R ImageGoldenTest).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "model/io/safetensors.h"
#include "model/vision/image_decode.h"
#include "model/vision/image_preprocess.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

// A uint8 difference d in channel c becomes d / (255 * std[c]) after normalisation.
constexpr double kClipStd[3] = {0.26862954, 0.26130258, 0.27577711};

cv::Mat GoldenToMat(const at::Tensor& chw) {  // U8 [3, H, W] -> CV_8UC3 [H, W]
  at::Tensor hwc = chw.permute({1, 2, 0}).contiguous();
  return cv::Mat(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3,
                 hwc.data_ptr<uint8_t>())
      .clone();
}

// HF's shortest-edge resize + floor center crop, with an OpenCV interpolation instead of PIL.
cv::Mat OpenCvResizeCrop(const cv::Mat& rgb, int shortest_edge, int crop, int interpolation) {
  const bool portrait = rgb.cols <= rgb.rows;
  const int s = portrait ? rgb.cols : rgb.rows, l = portrait ? rgb.rows : rgb.cols;
  const int new_long = static_cast<int>(static_cast<double>(int64_t{shortest_edge} * l) / s);
  const cv::Size size =
      portrait ? cv::Size(shortest_edge, new_long) : cv::Size(new_long, shortest_edge);
  cv::Mat resized;
  cv::resize(rgb, resized, size, 0, 0, interpolation);
  return resized(cv::Rect((size.width - crop) / 2, (size.height - crop) / 2, crop, crop)).clone();
}

struct Diff {
  int levels = 0;           // max abs uint8 difference, any channel
  double normalized = 0.0;  // max abs pixel_values difference after rescale + CLIP normalise
};

Diff MaxDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat ca[3], cb[3];
  cv::split(a, ca);
  cv::split(b, cb);
  Diff d;
  for (int c = 0; c < 3; ++c) {
    const double levels = cv::norm(ca[c], cb[c], cv::NORM_INF);
    d.levels = std::max(d.levels, static_cast<int>(levels));
    d.normalized = std::max(d.normalized, levels / (255.0 * kClipStd[c]));
  }
  return d;
}

TEST(ImageGoldenTest, MatchesPillowPixelForPixel) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> goldens =
      SafetensorsFile::Open(testing::TestData("images/pixel_goldens.safetensors"));
  ASSERT_TRUE(goldens.ok()) << goldens.status();
  int n_checked = 0;
  std::printf("max abs diff vs PIL: uint8 levels / pixel_values after normalisation\n");
  std::printf("%-38s %12s %12s %12s %12s\n", "image@crop", "ours", "cv_cubic", "cv_area",
              "cv_linear");
  for (const SafetensorsEntry& entry : (*goldens)->entries()) {
    const size_t at = entry.name.rfind('@');
    ASSERT_NE(at, std::string::npos) << entry.name;
    const std::string file = entry.name.substr(0, at), kind = entry.name.substr(at + 1);
    if (kind == "tiny") continue;  // float pixel_values: image_preprocess_test
    SCOPED_TRACE(entry.name);
    const int size = std::stoi(kind);  // "64" or "64/lanczos"
    ImagePreprocessorConfig config;
    config.shortest_edge = config.crop_height = config.crop_width = size;
    const size_t slash = kind.find('/');
    if (slash != std::string::npos) {
      const std::string filter = kind.substr(slash + 1);
      config.resample = filter == "lanczos"    ? ResampleFilter::kLanczos
                        : filter == "bilinear" ? ResampleFilter::kBilinear
                        : filter == "box"      ? ResampleFilter::kBox
                        : filter == "hamming"  ? ResampleFilter::kHamming
                                               : ResampleFilter::kNearest;
    }
    const ClipImagePreprocessor preprocessor = *ClipImagePreprocessor::Create(config);
    absl::StatusOr<cv::Mat> rgb = DecodeImage([&] {
      std::FILE* f = std::fopen(testing::TestData("images/" + file).c_str(), "rb");
      std::string bytes;
      char buf[1 << 16];
      for (size_t n; f != nullptr && (n = std::fread(buf, 1, sizeof buf, f)) > 0;) {
        bytes.append(buf, n);
      }
      if (f != nullptr) std::fclose(f);
      return bytes;
    }());
    ASSERT_TRUE(rgb.ok()) << rgb.status();
    const cv::Mat golden = GoldenToMat(*(*goldens)->Load(entry.name));
    const cv::Mat ours = *preprocessor.ResizeAndCrop(*rgb);
    ASSERT_EQ(ours.size(), golden.size());
    const Diff diff = MaxDiff(ours, golden);
    const Diff cubic = MaxDiff(OpenCvResizeCrop(*rgb, size, size, cv::INTER_CUBIC), golden);
    const Diff area = MaxDiff(OpenCvResizeCrop(*rgb, size, size, cv::INTER_AREA), golden);
    const Diff linear = MaxDiff(OpenCvResizeCrop(*rgb, size, size, cv::INTER_LINEAR), golden);
    std::printf("%-38s %3d / %6.4f %3d / %6.4f %3d / %6.4f %3d / %6.4f\n", entry.name.c_str(),
                diff.levels, diff.normalized, cubic.levels, cubic.normalized, area.levels,
                area.normalized, linear.levels, linear.normalized);
    // Rounding only: at most one uint8 level (1/255 before normalisation). The CMYK JPEG is the
    // one documented exception (OpenCV's CMYK->RGB rounds differently from Pillow's).
    EXPECT_LE(diff.levels, file == "variants/chelsea_cmyk.jpg" ? 2 : 1);
    ++n_checked;
  }
  EXPECT_GE(n_checked, 20);
}

}  // namespace
}  // namespace lmeye
