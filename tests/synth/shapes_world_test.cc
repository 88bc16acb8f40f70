// Scene sampling: object counts, no overlap, margins, the vocabulary's contrast and sizes, and
// colours that vary for every shape (so "what color is the X" needs the image).
#include "model/synth/shapes_world.h"

#include <cmath>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "model/synth/draws.h"

namespace lmeye::synth {
namespace {

constexpr int kScenes = 2000;

double Distance(Rgb a, Rgb b) {
  const double dr = a.r - b.r, dg = a.g - b.g, db = a.b - b.b;
  return std::sqrt(dr * dr + dg * dg + db * db);
}

TEST(ShapesWorldTest, SameSeedAndIndexSameScene) {
  for (int i = 0; i < 50; ++i) {
    const Scene a = SampleScene(7, i), b = SampleScene(7, i);
    ASSERT_EQ(a.objects.size(), b.objects.size());
    EXPECT_EQ(a.background, b.background);
    EXPECT_EQ(a.tone, b.tone);
    for (size_t k = 0; k < a.objects.size(); ++k) {
      EXPECT_EQ(a.objects[k].shape, b.objects[k].shape);
      EXPECT_EQ(a.objects[k].color, b.objects[k].color);
      EXPECT_EQ(a.objects[k].x, b.objects[k].x);
      EXPECT_EQ(a.objects[k].y, b.objects[k].y);
    }
  }
}

TEST(ShapesWorldTest, DifferentSeedsDifferentScenes) {
  int n_same = 0;
  for (int i = 0; i < 50; ++i) {
    n_same += SampleScene(1, i).objects[0].x == SampleScene(2, i).objects[0].x;
  }
  EXPECT_EQ(n_same, 0);
}

TEST(ShapesWorldTest, DrawsAreFixedArithmetic) {
  // The first draws of a stream are part of the format: a change here changes every dataset.
  Draws draws(0, DrawStream::kScene, 0);
  Draws again(0, DrawStream::kScene, 0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(draws.Below(1000), again.Below(1000));
  std::map<int, int> counts;
  Draws d(5, DrawStream::kQuestions, 3);
  for (int i = 0; i < 6000; ++i) ++counts[d.Below(6)];
  ASSERT_EQ(counts.size(), 6u);
  for (const auto& [value, n] : counts) EXPECT_NEAR(n, 1000, 150) << value;
}

TEST(ShapesWorldTest, ScenesHaveOneToFourObjectsApartAndInside) {
  std::map<int, int> by_count;
  std::map<Background, int> by_background;
  for (int i = 0; i < kScenes; ++i) {
    const Scene scene = SampleScene(11, i);
    const int n = static_cast<int>(scene.objects.size());
    ASSERT_GE(n, kMinObjects);
    ASSERT_LE(n, kMaxObjects);
    ++by_count[n];
    ++by_background[scene.background];
    for (size_t a = 0; a < scene.objects.size(); ++a) {
      const ShapeObject& o = scene.objects[a];
      const double half = o.extent() / 2 + kBorderMargin - 1e-9;
      EXPECT_GE(o.x, half);
      EXPECT_LE(o.x, 1 - half);
      EXPECT_GE(o.y, half);
      EXPECT_LE(o.y, 1 - half);
      if (a > 0) {
        EXPECT_LE(scene.objects[a - 1].x, o.x) << "objects are left to right";
      }
      for (size_t b = a + 1; b < scene.objects.size(); ++b) {
        EXPECT_FALSE(TooClose(o, scene.objects[b])) << "scene " << i;
      }
    }
  }
  for (int n = kMinObjects; n <= kMaxObjects; ++n) EXPECT_GT(by_count[n], kScenes / 6) << n;
  EXPECT_NEAR(by_background[Background::kPlain], kScenes / 2, kScenes / 10);
  EXPECT_EQ(by_background.size(), static_cast<size_t>(kNumBackgrounds));
}

TEST(ShapesWorldTest, EveryShapeComesInEveryColor) {
  std::map<Shape, std::map<Color, int>> colors;
  for (int i = 0; i < kScenes; ++i) {
    for (const ShapeObject& o : SampleScene(3, i).objects) ++colors[o.shape][o.color];
  }
  for (int s = 0; s < kNumShapes; ++s) {
    const auto& by_color = colors[static_cast<Shape>(s)];
    ASSERT_EQ(by_color.size(), static_cast<size_t>(kNumColors)) << ShapeName(static_cast<Shape>(s));
    int total = 0, most = 0;
    for (const auto& [color, n] : by_color) {
      total += n;
      most = std::max(most, n);
    }
    EXPECT_LT(most, total * 0.3) << ShapeName(static_cast<Shape>(s));
  }
}

TEST(ShapesWorldTest, ColorsContrastWithEveryBackgroundTone) {
  std::set<std::string> names;
  for (int c = 0; c < kNumColors; ++c) {
    const Color color = static_cast<Color>(c);
    names.insert(ColorName(color));
    for (int t = 0; t < kNumTones; ++t) {
      EXPECT_GE(Distance(ColorRgb(color), LightTone(t)), 100) << ColorName(color) << " tone " << t;
      EXPECT_GE(Distance(ColorRgb(color), DarkTone(t)), 100) << ColorName(color) << " tone " << t;
    }
    for (int d = c + 1; d < kNumColors; ++d) {
      EXPECT_GE(Distance(ColorRgb(color), ColorRgb(static_cast<Color>(d))), 80)
          << ColorName(color) << " vs " << ColorName(static_cast<Color>(d));
    }
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumColors));
}

TEST(ShapesWorldTest, SmallObjectsStayVisibleAt64Pixels) {
  EXPECT_GE(Extent(Size::kSmall) * 64, 12.0);
  EXPECT_GT(Extent(Size::kLarge), Extent(Size::kSmall) * 1.5);
}

TEST(ShapesWorldTest, PlacementNeedsAClearMargin) {
  ShapeObject reference, object;
  reference.x = 0.5;
  object.x = 0.5 - kClearOffset;
  EXPECT_EQ(PlacementOf(object, reference, Direction::kLeft), Placement::kClear);
  EXPECT_EQ(PlacementOf(object, reference, Direction::kRight), Placement::kNot);
  object.x = 0.5 - (kClearOffset + kNotOffset) / 2;
  EXPECT_EQ(PlacementOf(object, reference, Direction::kLeft), Placement::kAmbiguous);
  object.x = 0.5;
  object.y = 0.2;  // y grows downwards
  EXPECT_EQ(PlacementOf(object, reference, Direction::kAbove), Placement::kClear);
  EXPECT_EQ(PlacementOf(object, reference, Direction::kBelow), Placement::kNot);
}

}  // namespace
}  // namespace lmeye::synth
