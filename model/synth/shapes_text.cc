#include "model/synth/shapes_text.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace lmeye::synth {
namespace {

// "a, b and c" (no Oxford comma, so the vocabulary stays small).
std::string JoinList(const std::vector<std::string>& items) {
  if (items.size() <= 1) return items.empty() ? "" : items[0];
  std::vector<std::string> head(items.begin(), items.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " and ", items.back());
}

std::string Capitalized(std::string text) {
  if (!text.empty()) text[0] = absl::ascii_toupper(static_cast<unsigned char>(text[0]));
  return text;
}

// One clear relation between two objects that phrases name unambiguously: the first pair
// (scene order, left to right) clearly apart horizontally, else the first clearly apart
// vertically. Empty when there is none.
std::string RelationSentence(const Scene& scene) {
  const std::vector<ShapeObject>& objects = scene.objects;
  for (Direction direction : {Direction::kLeft, Direction::kAbove, Direction::kBelow}) {
    for (size_t i = 0; i < objects.size(); ++i) {
      for (size_t j = 0; j < objects.size(); ++j) {
        if (i == j || !UniqueByColorShape(scene, objects[i]) ||
            !UniqueByColorShape(scene, objects[j]) ||
            PlacementOf(objects[i], objects[j], direction) != Placement::kClear) {
          continue;
        }
        return absl::StrCat("The ", ObjectPhrase(objects[i], false), " is ",
                            DirectionPhrase(direction), " the ", ObjectPhrase(objects[j], false),
                            ".");
      }
    }
  }
  return "";
}

}  // namespace

std::string CountWord(int n) {
  static const char* const kWords[] = {"zero", "one", "two", "three", "four"};
  return n >= 0 && n <= 4 ? kWords[n] : absl::StrCat(n);
}

std::string ObjectPhrase(const ShapeObject& object, bool with_size) {
  return with_size ? absl::StrCat(SizeName(object.size), " ", ColorName(object.color), " ",
                                  ShapeName(object.shape))
                   : absl::StrCat(ColorName(object.color), " ", ShapeName(object.shape));
}

std::string PositionPhrase(const ShapeObject& object) {
  // Thirds of the image: 0 top/left, 1 middle, 2 bottom/right.
  auto third = [](double v) { return v < 1.0 / 3 ? 0 : v < 2.0 / 3 ? 1 : 2; };
  const int row = third(object.y), col = third(object.x);
  static const char* const kRows[] = {"top", "", "bottom"};
  static const char* const kCols[] = {"left", "", "right"};
  if (row == 1 && col == 1) return "in the center";
  if (row == 1) return absl::StrCat("on the ", kCols[col]);
  if (col == 1) return absl::StrCat("at the ", kRows[row]);
  return absl::StrCat("in the ", kRows[row], " ", kCols[col]);
}

bool UniqueByColorShape(const Scene& scene, const ShapeObject& object) {
  return CountObjects(scene, object.shape, object.color) == 1;
}

std::string Caption(const Scene& scene) {
  std::vector<std::string> phrases;
  for (const ShapeObject& object : scene.objects) {
    phrases.push_back(absl::StrCat("a ", ObjectPhrase(object, true)));
  }
  return absl::StrCat(JoinList(phrases), " on a ", BackgroundName(scene.background),
                      " background.");
}

std::string ClipCaption(const Scene& scene) {
  Scene ordered = scene;
  std::stable_sort(ordered.objects.begin(), ordered.objects.end(),
                   [](const ShapeObject& a, const ShapeObject& b) {
                     return std::tie(a.shape, a.color, a.size) < std::tie(b.shape, b.color, b.size);
                   });
  return Caption(ordered);
}

std::string Description(const Scene& scene) {
  const int n = static_cast<int>(scene.objects.size());
  std::string text = n == 1 ? absl::StrCat("There is one object on a ",
                                           BackgroundName(scene.background), " background.")
                            : absl::StrCat("There are ", CountWord(n), " objects on a ",
                                           BackgroundName(scene.background), " background.");
  std::vector<std::string> placed;
  for (const ShapeObject& object : scene.objects) {
    placed.push_back(
        absl::StrCat("a ", ObjectPhrase(object, true), " is ", PositionPhrase(object)));
  }
  absl::StrAppend(&text, " ", Capitalized(JoinList(placed)), ".");
  const std::string relation = RelationSentence(scene);
  if (!relation.empty()) absl::StrAppend(&text, " ", relation);
  return text;
}

}  // namespace lmeye::synth
