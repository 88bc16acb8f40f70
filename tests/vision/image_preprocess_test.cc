// preprocessor_config.json parsing and the CLIP preprocessing steps (resize, crop, rescale,
// normalise), including bit-exact float pixel_values against numpy.
#include "model/vision/image_preprocess.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "model/io/safetensors.h"
#include "model/vision/image_decode.h"
#include "model/vision/image_resample.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

const char kTinyConfig[] = "models/lmeye-tiny-opt/clip/preprocessor_config.json";

cv::Mat Decode(const std::string& relative) {
  absl::StatusOr<cv::Mat> rgb = DecodeImageFile(testing::TestData("images/" + relative));
  EXPECT_TRUE(rgb.ok()) << rgb.status();
  return rgb.ok() ? *rgb : cv::Mat();
}

TEST(ImagePreprocessorConfigTest, TinyModelConfig) {
  absl::StatusOr<ImagePreprocessorConfig> c =
      LoadImagePreprocessorConfig(testing::TestData(kTinyConfig));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->shortest_edge, 32);
  EXPECT_EQ(c->crop_height, 32);
  EXPECT_EQ(c->crop_width, 32);
  EXPECT_EQ(c->resample, ResampleFilter::kBicubic);
  EXPECT_DOUBLE_EQ(c->rescale_factor, 1.0 / 255);
  EXPECT_DOUBLE_EQ(c->image_std[2], 0.27577711);
}

TEST(ImagePreprocessorConfigTest, DefaultsAndLegacyKeys) {
  absl::StatusOr<ImagePreprocessorConfig> empty = ParseImagePreprocessorConfig("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->shortest_edge, 224);  // CLIPImageProcessor defaults
  EXPECT_EQ(empty->crop_height, 224);
  EXPECT_TRUE(empty->do_resize && empty->do_center_crop && empty->do_rescale &&
              empty->do_normalize);
  EXPECT_DOUBLE_EQ(empty->image_mean[0], 0.48145466);
  // openai/clip-vit-large-patch14 as first published (CLIPFeatureExtractor, int sizes).
  absl::StatusOr<ImagePreprocessorConfig> legacy = ParseImagePreprocessorConfig(
      R"({"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
          "feature_extractor_type": "CLIPFeatureExtractor", "resample": 3, "size": 336,
          "image_mean": [0.5, 0.5, 0.5], "image_std": 0.5})");
  ASSERT_TRUE(legacy.ok()) << legacy.status();
  EXPECT_EQ(legacy->shortest_edge, 336);
  EXPECT_EQ(legacy->crop_width, 224);
  EXPECT_DOUBLE_EQ(legacy->image_std[1], 0.5);
  absl::StatusOr<ImagePreprocessorConfig> flags = ParseImagePreprocessorConfig(
      R"({"do_center_crop": false, "do_rescale": false, "resample": 2, "unknown_key": [1]})");
  ASSERT_TRUE(flags.ok());
  EXPECT_FALSE(flags->do_center_crop);
  EXPECT_FALSE(flags->do_rescale);
  EXPECT_EQ(flags->resample, ResampleFilter::kBilinear);
}

TEST(ImagePreprocessorConfigTest, Errors) {
  const struct {
    const char* json;
    const char* message;
  } cases[] = {
      {"[1, 2]", "not a JSON object"},
      {"{", "not a JSON object"},
      {R"({"size": {"height": 224, "width": 224}})", "needs \"shortest_edge\""},
      {R"({"size": -3})", "\"size\" must be a positive integer"},
      {R"({"crop_size": {"height": 224}})", "needs \"height\" and \"width\""},
      {R"({"do_resize": "yes"})", "\"do_resize\" must be true or false"},
      {R"({"image_mean": [0.5, 0.5]})", "\"image_mean\" must be a number or 3 numbers"},
      {R"({"image_std": [0.5, 0, 0.5]})", "\"image_std\" has a zero entry"},
      {R"({"resample": 0})", "0 NEAREST is not"},
      {R"({"image_processor_type": "ViTImageProcessor"})", "only CLIPImageProcessor"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<ImagePreprocessorConfig> config = ParseImagePreprocessorConfig(c.json);
    ASSERT_FALSE(config.ok()) << c.json;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(c.message)) << c.json;
  }
  EXPECT_EQ(LoadImagePreprocessorConfig("/nonexistent/preprocessor_config.json").status().code(),
            absl::StatusCode::kNotFound);
}

// Full pipeline against numpy's float32 pixel_values for the tiny model config: bit-exact.
TEST(ImagePreprocessTest, PixelValuesMatchHuggingFaceExactly) {
  const ClipImagePreprocessor preprocessor =
      *ClipImagePreprocessor::FromFile(testing::TestData(kTinyConfig));
  std::unique_ptr<SafetensorsFile> goldens =
      *SafetensorsFile::Open(testing::TestData("images/pixel_goldens.safetensors"));
  int n_checked = 0;
  for (const char* file : {"chelsea.png", "astronaut.jpg", "variants/coffee_strip_600x12.jpg"}) {
    const at::Tensor expected = *goldens->Load(std::string(file) + "@tiny");
    absl::StatusOr<at::Tensor> pixel_values = preprocessor.Preprocess(Decode(file));
    ASSERT_TRUE(pixel_values.ok()) << pixel_values.status();
    ASSERT_EQ(pixel_values->sizes(), expected.sizes()) << file;
    const double diff = (*pixel_values - expected).abs().max().item<double>();
    std::cout << file << ": pixel_values max abs diff " << diff << "\n";
    EXPECT_EQ(diff, 0.0) << file;
    ++n_checked;
  }
  EXPECT_EQ(n_checked, 3);
}

TEST(ImagePreprocessTest, ResizeKeepsAspectWithHuggingFaceTruncation) {
  ImagePreprocessorConfig config;
  config.do_center_crop = false;
  const ClipImagePreprocessor p = *ClipImagePreprocessor::Create(config);
  // 451x300: long side int(224 * 451 / 300) = int(336.75) = 336 (truncated, not rounded).
  EXPECT_EQ(p.ResizeAndCrop(Decode("chelsea.png"))->size(), cv::Size(336, 224));
  // Portrait 512x600 -> 224 x int(262.5) = 262.
  EXPECT_EQ(p.ResizeAndCrop(Decode("grace_hopper.jpg"))->size(), cv::Size(224, 262));
}

TEST(ImagePreprocessTest, CenterCropOffsetsAndPaddingLikeHuggingFace) {
  // Pixel values encode their coordinates so placement is visible.
  cv::Mat image(2, 5, CV_8UC3);
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 5; ++x) image.at<cv::Vec3b>(y, x) = cv::Vec3b(10 * y + x + 1, 0, 7);
  }
  ImagePreprocessorConfig config;
  config.do_resize = false;
  config.crop_height = 4;
  config.crop_width = 2;
  const cv::Mat out = *ClipImagePreprocessor::Create(config)->ResizeAndCrop(image);
  ASSERT_EQ(out.size(), cv::Size(2, 4));
  // left = (5 - 2) // 2 = 1; top = (2 - 4) // 2 = -1: one zero row above, one below.
  const uint8_t expected[4][2] = {{0, 0}, {2, 3}, {12, 13}, {0, 0}};
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 2; ++x) EXPECT_EQ(out.at<cv::Vec3b>(y, x)[0], expected[y][x]) << y << x;
  }
  // Padding is zero before normalisation, so it normalises to -mean/std.
  const at::Tensor t = *ClipImagePreprocessor::Create(config)->Preprocess(image);
  EXPECT_FLOAT_EQ(t[2][0][0].item<float>(),
                  (0.0f - static_cast<float>(0.40821073)) / static_cast<float>(0.27577711));
}

TEST(ImagePreprocessTest, CropRegionEqualsCropOfFullResize) {
  const cv::Mat rgb = Decode("coffee.jpg");
  ImagePreprocessorConfig config;
  config.do_center_crop = false;
  const cv::Mat full = *ClipImagePreprocessor::Create(config)->ResizeAndCrop(rgb);  // 336x224
  config.do_center_crop = true;
  const cv::Mat crop = *ClipImagePreprocessor::Create(config)->ResizeAndCrop(rgb);
  EXPECT_EQ(cv::norm(crop, full(cv::Rect(56, 0, 224, 224)), cv::NORM_INF), 0);
  // And ResizeLikePil's region mode agrees with its full mode on arbitrary regions.
  for (const cv::Rect roi :
       {cv::Rect(0, 0, 5, 7), cv::Rect(100, 50, 31, 1), cv::Rect(330, 200, 6, 24)}) {
    const cv::Mat part = *ResizeLikePil(rgb, full.size(), ResampleFilter::kBicubic, roi);
    EXPECT_EQ(cv::norm(part, full(roi), cv::NORM_INF), 0) << roi;
  }
}

TEST(ImagePreprocessTest, ResampleBasics) {
  // A constant image stays constant under every filter and any scale.
  cv::Mat flat(37, 53, CV_8UC3, cv::Scalar(12, 200, 255));
  for (ResampleFilter f :
       {ResampleFilter::kBicubic, ResampleFilter::kBilinear, ResampleFilter::kLanczos,
        ResampleFilter::kBox, ResampleFilter::kHamming}) {
    for (cv::Size size : {cv::Size(7, 5), cv::Size(53, 37), cv::Size(160, 90)}) {
      const cv::Mat out = *ResizeLikePil(flat, size, f);
      EXPECT_EQ(cv::norm(out, cv::Mat(size, CV_8UC3, cv::Scalar(12, 200, 255)), cv::NORM_INF), 0);
    }
  }
  // Same size: identity.
  const cv::Mat rgb = Decode("variants/chelsea_444.jpg");
  EXPECT_EQ(cv::norm(*ResizeLikePil(rgb, rgb.size(), ResampleFilter::kBicubic), rgb, cv::NORM_INF),
            0);
  EXPECT_FALSE(ResizeLikePil(rgb, {10, 10}, ResampleFilter::kNearest).ok());
  EXPECT_FALSE(ResizeLikePil(rgb, {10, 10}, ResampleFilter::kBicubic, {5, 5, 10, 10}).ok());
  EXPECT_FALSE(ResizeLikePil(cv::Mat(4, 4, CV_32FC3), {2, 2}, ResampleFilter::kBicubic).ok());
}

TEST(ImagePreprocessTest, ExtremeAspectRatioComputesOnlyTheCrop) {
  // 16000x1: the full resize would be 3584000x224 (2.4 GB); only the 224x224 crop is computed.
  cv::Mat strip(1, 16000, CV_8UC3, cv::Scalar(1, 2, 3));
  const ClipImagePreprocessor p = *ClipImagePreprocessor::Create(ImagePreprocessorConfig());
  absl::StatusOr<at::Tensor> t = p.Preprocess(strip);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->sizes(), (std::vector<int64_t>{3, 224, 224}));
}

// Informational: what one request costs on this machine (printed, not asserted).
TEST(ImagePreprocessTest, Timing) {
  const ClipImagePreprocessor p = *ClipImagePreprocessor::Create(ImagePreprocessorConfig());
  for (const char* file : {"retina.jpg", "exif_orientation_6.jpg", "chelsea.png"}) {
    const auto start = std::chrono::steady_clock::now();
    const cv::Mat rgb = Decode(file);
    const auto decoded = std::chrono::steady_clock::now();
    ASSERT_TRUE(p.Preprocess(rgb).ok());
    const auto done = std::chrono::steady_clock::now();
    std::cout << file << ": decode "
              << std::chrono::duration<double, std::milli>(decoded - start).count()
              << " ms, preprocess to [3, 224, 224] "
              << std::chrono::duration<double, std::milli>(done - decoded).count() << " ms\n";
  }
}

TEST(ImagePreprocessTest, BatchStacksSingles) {
  const ClipImagePreprocessor p = *ClipImagePreprocessor::FromFile(testing::TestData(kTinyConfig));
  const std::vector<cv::Mat> images = {Decode("coins.png"), Decode("rocket.jpg")};
  absl::StatusOr<at::Tensor> batch = p.PreprocessBatch(images);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->sizes(), (std::vector<int64_t>{2, 3, 32, 32}));
  for (int b = 0; b < 2; ++b) {
    EXPECT_TRUE(at::equal((*batch)[b], *p.Preprocess(images[b]))) << b;
  }
  EXPECT_FALSE(p.PreprocessBatch({}).ok());
  ImagePreprocessorConfig no_crop = p.config();
  no_crop.do_center_crop = false;
  EXPECT_THAT(
      std::string(
          ClipImagePreprocessor::Create(no_crop)->PreprocessBatch(images).status().message()),
      HasSubstr("enable center crop"));
  EXPECT_THAT(std::string(p.Preprocess(cv::Mat(3, 3, CV_8UC1)).status().message()),
              HasSubstr("needs a non-empty 8-bit RGB image"));
}

}  // namespace
}  // namespace lmeye
