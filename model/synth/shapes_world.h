// The shapes world: a small synthetic visual world whose scenes train and evaluate the demo LMEye
// end to end (`lmeye data shapes`, deploy/train-demo.sh). This file is its vocabulary and its
// scene graph; shapes_render.h draws a scene, shapes_text.h / shapes_questions.h say things about
// it.
//
// Vocabulary (fixed; the demo model's tokenizer is tiny):
//   shapes      circle, square, triangle, diamond, cross
//   colours     red, green, blue, yellow, purple, orange (saturated, far apart in RGB)
//   sizes       small, large
//   backgrounds plain, striped, checkered, noisy (muted light tones that every colour contrasts
//               with; textures alternate a tone with a darker version of it)
//
// Geometry is in fractions of the image side (x right, y down, both in [0, 1]) so one scene renders
// at any --size. Every object has a square bounding box of side Extent(size): small 0.21, large
// 0.34, so a small object still spans >= 13 px when the demo CLIP resizes the image to 64x64.
// Bounding boxes keep kMinGap apart and kBorderMargin from the edges: objects never overlap or
// touch, and each one's centre pixel is its own colour.
//
// Scene sampling: 1 to 4 objects; shape, colour and size uniform and independent per object (so
// for a given shape every colour occurs: "what color is the triangle" needs the image); half the
// backgrounds plain, the rest textured. Deterministic in (seed, index); see draws.h.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lmeye::synth {

enum class Shape { kCircle, kSquare, kTriangle, kDiamond, kCross };
enum class Color { kRed, kGreen, kBlue, kYellow, kPurple, kOrange };
enum class Size { kSmall, kLarge };
enum class Background { kPlain, kStriped, kCheckered, kNoisy };

inline constexpr int kNumShapes = 5;
inline constexpr int kNumColors = 6;
inline constexpr int kNumSizes = 2;
inline constexpr int kNumBackgrounds = 4;
inline constexpr int kMinObjects = 1;
inline constexpr int kMaxObjects = 4;

inline constexpr double kMinGap = 0.04;        // between bounding boxes
inline constexpr double kBorderMargin = 0.03;  // between a bounding box and the image edge

// Lower-case words as they appear in text: "circle", "red", "small", "striped".
const char* ShapeName(Shape shape);
const char* ColorName(Color color);
const char* SizeName(Size size);
const char* BackgroundName(Background background);
// Plural shape words for counting questions: "circles", "crosses".
const char* ShapePlural(Shape shape);

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

// The exact fill colour of an object of `color`.
Rgb ColorRgb(Color color);
// Side of an object's bounding box, as a fraction of the image side.
double Extent(Size size);

// Background tones: kNumTones light, low-saturation base tones; textures pair a tone with
// DarkTone(tone). Every object colour is at least 100 apart (RGB Euclidean) from both.
inline constexpr int kNumTones = 4;
Rgb LightTone(int tone);
Rgb DarkTone(int tone);

struct ShapeObject {
  Shape shape = Shape::kCircle;
  Color color = Color::kRed;
  Size size = Size::kSmall;
  double x = 0.5, y = 0.5;  // centre, fractions of the image side
  double extent() const { return Extent(size); }
};

struct Scene {
  int index = 0;  // the image number (images/NNNNNN.png)
  Background background = Background::kPlain;
  int tone = 0;  // LightTone / DarkTone index
  // Objects left to right (by x): captions and descriptions list them in this order.
  std::vector<ShapeObject> objects;
};

// True when the bounding boxes of `a` and `b` are closer than kMinGap on both axes.
bool TooClose(const ShapeObject& a, const ShapeObject& b);

// Scene `index` of the dataset with `seed`. Always has kMinObjects..kMaxObjects objects, none
// TooClose to another, all inside the margins.
Scene SampleScene(uint64_t seed, int index);

// Spatial relations, by centres. "A is left of B" is clear when A's centre is at least
// kClearOffset left of B's, and not said at all (kNot) when less than kNotOffset; in between it
// is ambiguous, and questions and descriptions avoid scenes where it matters.
enum class Direction { kLeft, kRight, kAbove, kBelow };
enum class Placement { kClear, kAmbiguous, kNot };
inline constexpr int kNumDirections = 4;
inline constexpr double kClearOffset = 0.15;
inline constexpr double kNotOffset = 0.05;

// "to the left of", "to the right of", "above", "below".
const char* DirectionPhrase(Direction direction);
// Where `object` lies in `direction` from `reference`.
Placement PlacementOf(const ShapeObject& object, const ShapeObject& reference, Direction direction);

// Objects of `scene` matching the given attributes (nullopt = any).
int CountObjects(const Scene& scene, std::optional<Shape> shape, std::optional<Color> color);

}  // namespace lmeye::synth
