#include "model/synth/shapes_world.h"

#include <algorithm>
#include <cmath>

#include "model/synth/draws.h"

namespace lmeye::synth {
namespace {

// Tries per object before a large object is made small, and again before it is left out. With
// at most four objects of side <= 0.34 a place is found within a few tries; the fallbacks only
// keep sampling total.
constexpr int kPlacementTries = 200;

struct ToneRgb {
  Rgb light;
  Rgb dark;
};

// Muted and light so that every saturated object colour stands out; the dark tone is what
// stripes, checks and the darkest noise reach.
constexpr ToneRgb kTones[kNumTones] = {
    {{215, 215, 215}, {180, 180, 180}},  // grey
    {{232, 222, 200}, {200, 190, 168}},  // beige
    {{205, 215, 228}, {172, 182, 196}},  // pale blue
    {{210, 226, 205}, {178, 194, 172}},  // pale green
};

bool PlaceObject(Draws& draws, const std::vector<ShapeObject>& placed, ShapeObject& object) {
  const double half = object.extent() / 2 + kBorderMargin;
  for (int t = 0; t < kPlacementTries; ++t) {
    object.x = draws.Range(half, 1.0 - half);
    object.y = draws.Range(half, 1.0 - half);
    const bool free = std::none_of(placed.begin(), placed.end(), [&](const ShapeObject& other) {
      return TooClose(object, other);
    });
    if (free) return true;
  }
  return false;
}

}  // namespace

const char* ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kCircle:
      return "circle";
    case Shape::kSquare:
      return "square";
    case Shape::kTriangle:
      return "triangle";
    case Shape::kDiamond:
      return "diamond";
    case Shape::kCross:
      return "cross";
  }
  return "?";
}

const char* ShapePlural(Shape shape) {
  switch (shape) {
    case Shape::kCircle:
      return "circles";
    case Shape::kSquare:
      return "squares";
    case Shape::kTriangle:
      return "triangles";
    case Shape::kDiamond:
      return "diamonds";
    case Shape::kCross:
      return "crosses";
  }
  return "?";
}

const char* ColorName(Color color) {
  switch (color) {
    case Color::kRed:
      return "red";
    case Color::kGreen:
      return "green";
    case Color::kBlue:
      return "blue";
    case Color::kYellow:
      return "yellow";
    case Color::kPurple:
      return "purple";
    case Color::kOrange:
      return "orange";
  }
  return "?";
}

const char* SizeName(Size size) { return size == Size::kSmall ? "small" : "large"; }

const char* BackgroundName(Background background) {
  switch (background) {
    case Background::kPlain:
      return "plain";
    case Background::kStriped:
      return "striped";
    case Background::kCheckered:
      return "checkered";
    case Background::kNoisy:
      return "noisy";
  }
  return "?";
}

Rgb ColorRgb(Color color) {
  switch (color) {
    case Color::kRed:
      return {215, 35, 35};
    case Color::kGreen:
      return {30, 155, 50};
    case Color::kBlue:
      return {35, 80, 215};
    case Color::kYellow:
      return {245, 205, 20};
    case Color::kPurple:
      return {135, 50, 175};
    case Color::kOrange:
      return {240, 115, 15};
  }
  return {};
}

double Extent(Size size) { return size == Size::kSmall ? 0.21 : 0.34; }

Rgb LightTone(int tone) { return kTones[tone].light; }
Rgb DarkTone(int tone) { return kTones[tone].dark; }

bool TooClose(const ShapeObject& a, const ShapeObject& b) {
  const double reach = (a.extent() + b.extent()) / 2 + kMinGap;
  return std::abs(a.x - b.x) < reach && std::abs(a.y - b.y) < reach;
}

Scene SampleScene(uint64_t seed, int index) {
  Draws draws(seed, DrawStream::kScene, static_cast<uint64_t>(index));
  Scene scene;
  scene.index = index;
  // Half plain: the model must also see objects without clutter.
  scene.background = draws.Chance(0.5)
                         ? Background::kPlain
                         : static_cast<Background>(draws.Between(1, kNumBackgrounds - 1));
  scene.tone = draws.Below(kNumTones);
  const int n_objects = draws.Between(kMinObjects, kMaxObjects);
  for (int i = 0; i < n_objects; ++i) {
    ShapeObject object;
    object.shape = static_cast<Shape>(draws.Below(kNumShapes));
    object.color = static_cast<Color>(draws.Below(kNumColors));
    object.size = static_cast<Size>(draws.Below(kNumSizes));
    bool placed = PlaceObject(draws, scene.objects, object);
    if (!placed && object.size == Size::kLarge) {
      object.size = Size::kSmall;
      placed = PlaceObject(draws, scene.objects, object);
    }
    if (placed) scene.objects.push_back(object);
  }
  std::stable_sort(scene.objects.begin(), scene.objects.end(),
                   [](const ShapeObject& a, const ShapeObject& b) { return a.x < b.x; });
  return scene;
}

const char* DirectionPhrase(Direction direction) {
  switch (direction) {
    case Direction::kLeft:
      return "to the left of";
    case Direction::kRight:
      return "to the right of";
    case Direction::kAbove:
      return "above";
    case Direction::kBelow:
      return "below";
  }
  return "?";
}

Placement PlacementOf(const ShapeObject& object, const ShapeObject& reference,
                      Direction direction) {
  // How far `object` is in `direction`; y grows downwards.
  double offset = 0;
  switch (direction) {
    case Direction::kLeft:
      offset = reference.x - object.x;
      break;
    case Direction::kRight:
      offset = object.x - reference.x;
      break;
    case Direction::kAbove:
      offset = reference.y - object.y;
      break;
    case Direction::kBelow:
      offset = object.y - reference.y;
      break;
  }
  if (offset >= kClearOffset) return Placement::kClear;
  if (offset <= kNotOffset) return Placement::kNot;
  return Placement::kAmbiguous;
}

int CountObjects(const Scene& scene, std::optional<Shape> shape, std::optional<Color> color) {
  return static_cast<int>(
      std::count_if(scene.objects.begin(), scene.objects.end(), [&](const ShapeObject& o) {
        return (!shape || o.shape == *shape) && (!color || o.color == *color);
      }));
}

}  // namespace lmeye::synth
