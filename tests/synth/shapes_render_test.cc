// Rendering matches the scene graph: each object's centre pixel is its colour, object colours
// appear only inside their objects' boxes, objects stay recognisable after the demo CLIP's
// 64x64 resize, and the same scene renders the same pixels.
#include "model/synth/shapes_render.h"

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace lmeye::synth {
namespace {

constexpr uint64_t kSeed = 4;

cv::Vec3b Bgr(Color color) {
  const Rgb c = ColorRgb(color);
  return cv::Vec3b(c.b, c.g, c.r);
}

double Distance(const cv::Vec3b& a, const cv::Vec3b& b) {
  double sum = 0;
  for (int k = 0; k < 3; ++k) sum += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(sum);
}

cv::Point Centre(const ShapeObject& o, int size) {
  return cv::Point(static_cast<int>(o.x * size), static_cast<int>(o.y * size));
}

TEST(ShapesRenderTest, CentrePixelIsTheObjectsColor) {
  for (int size : {64, 128, 200}) {
    for (int i = 0; i < 200; ++i) {
      const Scene scene = SampleScene(kSeed, i);
      const cv::Mat image = RenderScene(scene, kSeed, size);
      ASSERT_EQ(image.rows, size);
      ASSERT_EQ(image.cols, size);
      ASSERT_EQ(image.type(), CV_8UC3);
      for (const ShapeObject& o : scene.objects) {
        EXPECT_EQ(image.at<cv::Vec3b>(Centre(o, size)), Bgr(o.color))
            << "scene " << i << " size " << size << " " << ShapeName(o.shape);
      }
    }
  }
}

TEST(ShapesRenderTest, ObjectColorsStayInsideTheirBoxes) {
  // A pixel of exactly an object colour lies in the bounding box of an object of that colour
  // (give or take the anti-aliased edge pixel): nothing bleeds, nothing overlaps, and no
  // background pixel is an object colour.
  constexpr int kSize = 128;
  for (int i = 0; i < 200; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    const cv::Mat image = RenderScene(scene, kSeed, kSize);
    int n_outside = 0;
    for (int y = 0; y < kSize; ++y) {
      for (int x = 0; x < kSize; ++x) {
        const cv::Vec3b pixel = image.at<cv::Vec3b>(y, x);
        for (int c = 0; c < kNumColors; ++c) {
          if (pixel != Bgr(static_cast<Color>(c))) continue;
          bool inside = false;
          for (const ShapeObject& o : scene.objects) {
            const double half = o.extent() * kSize / 2 + 1;
            inside = inside ||
                     (o.color == static_cast<Color>(c) && std::abs(x + 0.5 - o.x * kSize) <= half &&
                      std::abs(y + 0.5 - o.y * kSize) <= half);
          }
          n_outside += !inside;
        }
      }
    }
    EXPECT_EQ(n_outside, 0) << "scene " << i;
  }
}

TEST(ShapesRenderTest, ObjectsSurviveTheResizeTo64) {
  for (int i = 0; i < 200; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    cv::Mat small;
    cv::resize(RenderScene(scene, kSeed, 128), small, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
    for (const ShapeObject& o : scene.objects) {
      EXPECT_LT(Distance(small.at<cv::Vec3b>(Centre(o, 64)), Bgr(o.color)), 30)
          << "scene " << i << " " << ShapeName(o.shape);
    }
  }
}

TEST(ShapesRenderTest, SameSceneSamePixels) {
  int n_textured = 0, n_differ = 0;
  for (int i = 0; i < 40; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    const cv::Mat a = RenderScene(scene, kSeed, 128), b = RenderScene(scene, kSeed, 128);
    EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0) << "scene " << i;
    if (scene.background == Background::kNoisy) {
      ++n_textured;
      // The noise comes from the seed: another seed, other noise, same objects.
      n_differ += cv::norm(a, RenderScene(scene, kSeed + 1, 128), cv::NORM_INF) > 0;
    }
  }
  EXPECT_GT(n_textured, 0);
  EXPECT_EQ(n_differ, n_textured);
}

TEST(ShapesRenderTest, PngRoundTrips) {
  const Scene scene = SampleScene(kSeed, 3);
  const cv::Mat image = RenderScene(scene, kSeed, 128);
  const std::string path = ::testing::TempDir() + "/synth_render_test.png";
  ASSERT_TRUE(WriteScenePng(image, path).ok());
  const cv::Mat read = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(read.empty());
  EXPECT_EQ(cv::norm(image, read, cv::NORM_INF), 0);
  std::filesystem::remove(path);
  EXPECT_FALSE(WriteScenePng(image, "/nonexistent-dir/x.png").ok());
}

}  // namespace
}  // namespace lmeye::synth
