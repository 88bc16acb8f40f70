// BlipImageProcessor (BLIP-2's preprocessor_config.json) against the fixture's pixel_values
// goldens, computed from the same image files with PIL + numpy as transformers 4.29 does.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/vision/image_decode.h"
#include "model/vision/image_preprocess.h"
#include "model/vision/image_preprocessor_config.h"
#include "tests/vision/blip2_fixture.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

TEST(Blip2ImageTest, ParsesTheFixtureConfig) {
  auto config = LoadImagePreprocessorConfig(testing::Blip2Dir() + "/preprocessor_config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, ImageProcessorKind::kBlip);
  EXPECT_EQ(config->resize_height, 32);
  EXPECT_EQ(config->resize_width, 32);
  EXPECT_FALSE(config->do_center_crop);
  EXPECT_EQ(config->resample, ResampleFilter::kBicubic);
  EXPECT_DOUBLE_EQ(config->image_mean[0], 0.48145466);
  EXPECT_DOUBLE_EQ(config->image_std[2], 0.27577711);
}

TEST(Blip2ImageTest, BlipSizeForms) {
  // An integer size is a square; absent, BlipImageProcessor's 384; a crop is never made.
  auto square = ParseImagePreprocessorConfig(
      R"({"image_processor_type": "BlipImageProcessor", "size": 40, "do_center_crop": true})");
  ASSERT_TRUE(square.ok()) << square.status();
  EXPECT_EQ(square->resize_height, 40);
  EXPECT_EQ(square->resize_width, 40);
  EXPECT_FALSE(square->do_center_crop);
  auto defaults = ParseImagePreprocessorConfig(R"({"image_processor_type": "BlipImageProcessor"})");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->resize_height, 384);
  auto rect = ParseImagePreprocessorConfig(
      R"({"image_processor_type": "BlipImageProcessor", "size": {"height": 20, "width": 30}})");
  ASSERT_TRUE(rect.ok()) << rect.status();
  auto pre = ClipImagePreprocessor::Create(*rect);
  ASSERT_TRUE(pre.ok()) << pre.status();
  auto out = pre->Preprocess(cv::Mat(50, 70, CV_8UC3, cv::Scalar(10, 200, 30)));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->sizes(), (std::vector<int64_t>{3, 20, 30}));

  auto bad = ParseImagePreprocessorConfig(
      R"({"image_processor_type": "BlipImageProcessor", "size": {"shortest_edge": 224}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"size\""));
  auto negative = ParseImagePreprocessorConfig(
      R"({"image_processor_type": "BlipImageProcessor", "size": {"height": 0, "width": 3}})");
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(std::string(negative.status().message()), HasSubstr("size.height"));
}

TEST(Blip2ImageTest, PixelValuesMatchGoldens) {
  auto pre = ClipImagePreprocessor::FromFile(testing::Blip2Dir() + "/preprocessor_config.json");
  ASSERT_TRUE(pre.ok()) << pre.status();
  for (const testing::Blip2Sample& s : testing::Blip2Samples()) {
    auto rgb = DecodeImageFile(s.image);
    ASSERT_TRUE(rgb.ok()) << s.image << ": " << rgb.status();
    auto pixels = pre->Preprocess(*rgb);
    ASSERT_TRUE(pixels.ok()) << pixels.status();
    const at::Tensor golden = testing::Blip2Golden(s.name + ".pixel_values");
    testing::ExpectMatchesGolden(s.name + ".pixel_values", *pixels, golden);
    // Integer resampling and per-value tables: bit-exact with PIL + numpy, on any CPU.
    EXPECT_EQ(testing::MaxAbsDiff(*pixels, golden), 0.0) << s.name << " " << s.image;
  }
}

}  // namespace
}  // namespace lmeye
