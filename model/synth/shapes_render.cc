#include "model/synth/shapes_render.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "model/synth/draws.h"

namespace lmeye::synth {
namespace {

// Sub-pixel precision of OpenCV's drawing calls: coordinates are multiplied by 2^kShift.
constexpr int kShift = 4;
constexpr double kScale = 1 << kShift;

cv::Vec3b Bgr(Rgb c) { return cv::Vec3b(c.b, c.g, c.r); }

// `t` in [0, 1] from the light (0) to the dark (1) tone.
cv::Vec3b Blend(Rgb light, Rgb dark, double t) {
  auto mix = [t](uint8_t a, uint8_t b) {
    return static_cast<uint8_t>(std::lround(a + (static_cast<double>(b) - a) * t));
  };
  return cv::Vec3b(mix(light.b, dark.b), mix(light.g, dark.g), mix(light.r, dark.r));
}

void PaintBackground(const Scene& scene, uint64_t seed, cv::Mat& image) {
  const cv::Vec3b light = Bgr(LightTone(scene.tone));
  const cv::Vec3b dark = Bgr(DarkTone(scene.tone));
  const int size = image.rows;
  Draws draws(seed, DrawStream::kTexture, static_cast<uint64_t>(scene.index));
  switch (scene.background) {
    case Background::kPlain:
      image.setTo(light);
      return;
    case Background::kStriped: {
      // Horizontal, vertical or diagonal bands, 6 to 12 % of the side wide.
      const int orientation = draws.Below(3);
      const int band = std::max(2, static_cast<int>(size * draws.Range(0.06, 0.12)));
      for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
          const int along = orientation == 0 ? y : orientation == 1 ? x : x + y;
          image.at<cv::Vec3b>(y, x) = (along / band) % 2 == 0 ? light : dark;
        }
      }
      return;
    }
    case Background::kCheckered: {
      const int cell = std::max(2, size / draws.Between(6, 10));
      for (int y = 0; y < size; ++y) {
        for (int x = 0; x < size; ++x) {
          image.at<cv::Vec3b>(y, x) = (x / cell + y / cell) % 2 == 0 ? light : dark;
        }
      }
      return;
    }
    case Background::kNoisy: {
      // Blocks of 1/32 of the side, so the noise survives the 64x64 resize as texture.
      const int block = std::max(1, size / 32);
      const int n_blocks = (size + block - 1) / block;
      for (int by = 0; by < n_blocks; ++by) {
        for (int bx = 0; bx < n_blocks; ++bx) {
          const cv::Vec3b c = Blend(LightTone(scene.tone), DarkTone(scene.tone), draws.Unit());
          const cv::Rect cell(bx * block, by * block, block, block);
          image(cell & cv::Rect(0, 0, size, size)).setTo(c);
        }
      }
      return;
    }
  }
}

// Fixed-point point at (x, y) in image pixels.
cv::Point Fixed(double x, double y) {
  return cv::Point(static_cast<int>(std::lround(x * kScale)),
                   static_cast<int>(std::lround(y * kScale)));
}

void FillPolygon(cv::Mat& image, const std::vector<cv::Point>& points, const cv::Scalar& color) {
  cv::fillPoly(image, std::vector<std::vector<cv::Point>>{points}, color, cv::LINE_AA, kShift);
}

void DrawObject(const ShapeObject& object, cv::Mat& image) {
  const Rgb rgb = ColorRgb(object.color);
  const cv::Scalar color(rgb.b, rgb.g, rgb.r);
  const double size = image.rows;
  const double cx = object.x * size, cy = object.y * size;
  // Half the bounding box, less half a pixel so anti-aliased edges stay inside it.
  const double h = object.extent() * size / 2 - 0.5;
  switch (object.shape) {
    case Shape::kCircle:
      cv::circle(image, Fixed(cx, cy), static_cast<int>(std::lround(h * kScale)), color, cv::FILLED,
                 cv::LINE_AA, kShift);
      return;
    case Shape::kSquare: {
      const double s = 0.86 * h;
      FillPolygon(image,
                  {Fixed(cx - s, cy - s), Fixed(cx + s, cy - s), Fixed(cx + s, cy + s),
                   Fixed(cx - s, cy + s)},
                  color);
      return;
    }
    case Shape::kTriangle:
      FillPolygon(image, {Fixed(cx, cy - h), Fixed(cx + h, cy + h), Fixed(cx - h, cy + h)}, color);
      return;
    case Shape::kDiamond:
      FillPolygon(image,
                  {Fixed(cx, cy - h), Fixed(cx + h, cy), Fixed(cx, cy + h), Fixed(cx - h, cy)},
                  color);
      return;
    case Shape::kCross: {
      const double t = h / 3;  // half the bar thickness: bars are a third of the box
      FillPolygon(image,
                  {Fixed(cx - h, cy - t), Fixed(cx + h, cy - t), Fixed(cx + h, cy + t),
                   Fixed(cx - h, cy + t)},
                  color);
      FillPolygon(image,
                  {Fixed(cx - t, cy - h), Fixed(cx + t, cy - h), Fixed(cx + t, cy + h),
                   Fixed(cx - t, cy + h)},
                  color);
      return;
    }
  }
}

}  // namespace

cv::Mat RenderScene(const Scene& scene, uint64_t seed, int image_size) {
  cv::Mat image(image_size, image_size, CV_8UC3);
  PaintBackground(scene, seed, image);
  for (const ShapeObject& object : scene.objects) DrawObject(object, image);
  return image;
}

absl::Status WriteScenePng(const cv::Mat& image, const std::string& path) {
  // Fixed level and default strategy: the bytes depend only on the pixels and libpng/zlib.
  const std::vector<int> params = {cv::IMWRITE_PNG_COMPRESSION, 6, cv::IMWRITE_PNG_STRATEGY,
                                   cv::IMWRITE_PNG_STRATEGY_DEFAULT};
  bool ok = false;
  try {
    ok = cv::imwrite(path, image, params);
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("writing ", path, ": ", e.what()));
  }
  if (!ok)
    return absl::InternalError(absl::StrCat("writing ", path, ": OpenCV could not write it"));
  return absl::OkStatus();
}

}  // namespace lmeye::synth
