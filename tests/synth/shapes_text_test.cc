// Captions (left to right, and in attribute order for CLIP) and descriptions: exact text for
// hand-built scenes, and over many sampled scenes a description that names every object with its
// size, colour, shape and position.
#include "model/synth/shapes_text.h"

#include <set>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace lmeye::synth {
namespace {

ShapeObject Object(Shape shape, Color color, Size size, double x, double y) {
  ShapeObject o;
  o.shape = shape;
  o.color = color;
  o.size = size;
  o.x = x;
  o.y = y;
  return o;
}

Scene TwoObjects() {
  Scene scene;
  scene.background = Background::kStriped;
  scene.objects = {Object(Shape::kTriangle, Color::kRed, Size::kLarge, 0.25, 0.2),
                   Object(Shape::kCircle, Color::kBlue, Size::kSmall, 0.75, 0.5)};
  return scene;
}

TEST(ShapesTextTest, CaptionListsObjectsLeftToRight) {
  EXPECT_EQ(Caption(TwoObjects()),
            "a large red triangle and a small blue circle on a striped background.");
  Scene three = TwoObjects();
  three.background = Background::kPlain;
  three.objects.push_back(Object(Shape::kCross, Color::kOrange, Size::kSmall, 0.8, 0.85));
  EXPECT_EQ(Caption(three),
            "a large red triangle, a small blue circle and a small orange cross on a plain "
            "background.");
}

TEST(ShapesTextTest, ClipCaptionListsObjectsInAttributeOrder) {
  // Shape first (circle before triangle), whatever the positions.
  EXPECT_EQ(ClipCaption(TwoObjects()),
            "a small blue circle and a large red triangle on a striped background.");
  Scene same_shape = TwoObjects();
  same_shape.objects[1].shape = Shape::kTriangle;  // then colour: red before blue
  same_shape.objects[0].x = 0.9;
  EXPECT_EQ(ClipCaption(same_shape),
            "a large red triangle and a small blue triangle on a striped background.");
  // Moving objects never changes it.
  Scene moved = same_shape;
  std::swap(moved.objects[0], moved.objects[1]);
  EXPECT_EQ(ClipCaption(moved), ClipCaption(same_shape));
}

TEST(ShapesTextTest, DescriptionGivesPositionsAndARelation) {
  EXPECT_EQ(Description(TwoObjects()),
            "There are two objects on a striped background. A large red triangle is in the top "
            "left and a small blue circle is on the right. The red triangle is to the left of "
            "the blue circle.");
  Scene one;
  one.objects = {Object(Shape::kDiamond, Color::kYellow, Size::kSmall, 0.5, 0.9)};
  EXPECT_EQ(Description(one),
            "There is one object on a plain background. A small yellow diamond is at the "
            "bottom.");
}

TEST(ShapesTextTest, NoRelationBetweenObjectsThatPhrasesCannotName) {
  Scene scene = TwoObjects();
  scene.objects[1].shape = Shape::kTriangle;
  scene.objects[1].color = Color::kRed;  // two red triangles: "the red triangle" is ambiguous
  EXPECT_EQ(Description(scene).find("to the left of"), std::string::npos);
}

TEST(ShapesTextTest, PositionPhrasesCoverTheGrid) {
  std::set<std::string> phrases;
  for (double y : {0.1, 0.5, 0.9}) {
    for (double x : {0.1, 0.5, 0.9}) {
      phrases.insert(PositionPhrase(Object(Shape::kCircle, Color::kRed, Size::kSmall, x, y)));
    }
  }
  EXPECT_EQ(phrases,
            (std::set<std::string>{"in the top left", "at the top", "in the top right",
                                   "on the left", "in the center", "on the right",
                                   "in the bottom left", "at the bottom", "in the bottom right"}));
}

TEST(ShapesTextTest, SampledDescriptionsNameEveryObject) {
  for (int i = 0; i < 500; ++i) {
    const Scene scene = SampleScene(5, i);
    const std::string description = Description(scene);
    const std::vector<std::string> sentences = absl::StrSplit(description, ". ", absl::SkipEmpty());
    EXPECT_GE(sentences.size(), 2u) << description;
    EXPECT_LE(sentences.size(), 4u) << description;
    for (const ShapeObject& o : scene.objects) {
      const std::string said = ObjectPhrase(o, true) + " is " + PositionPhrase(o);
      EXPECT_NE(description.find(said), std::string::npos) << description << " / " << said;
    }
    const std::string caption = Caption(scene);
    EXPECT_TRUE(absl::EndsWith(
        caption, std::string(" on a ") + BackgroundName(scene.background) + " background."))
        << caption;
  }
}

}  // namespace
}  // namespace lmeye::synth
