#include "model/synth/shapes_questions.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "model/synth/shapes_text.h"

namespace lmeye::synth {
namespace {

// How often a counting question asks about a colour or shape that is present; the rest ask about
// an absent one ("zero"), so "zero" is an answer without dominating.
constexpr double kCountPresentFraction = 0.7;
constexpr int kMaxSpatialQuestions = 2;
constexpr char kLetters[] = "ABCD";

std::string Article(const std::string& word) {
  return word.find_first_of("aeiou") == 0 ? "an" : "a";
}

QaPair Qa(QaKind kind, std::string question, std::string answer, std::string sentence = "") {
  return QaPair{kind, std::move(question), std::move(answer), std::move(sentence)};
}

void AskAttributes(const Scene& scene, Draws& draws, std::vector<QaPair>& out) {
  for (int s = 0; s < kNumShapes; ++s) {
    const Shape shape = static_cast<Shape>(s);
    if (CountObjects(scene, shape, std::nullopt) != 1) continue;
    for (const ShapeObject& o : scene.objects) {
      if (o.shape == shape) {
        out.push_back(Qa(QaKind::kColor, absl::StrCat("What color is the ", ShapeName(shape), "?"),
                         ColorName(o.color),
                         absl::StrCat("The ", ShapeName(shape), " is ", ColorName(o.color), ".")));
      }
    }
  }
  for (int c = 0; c < kNumColors; ++c) {
    const Color color = static_cast<Color>(c);
    if (CountObjects(scene, std::nullopt, color) != 1) continue;
    for (const ShapeObject& o : scene.objects) {
      if (o.color == color) {
        out.push_back(Qa(QaKind::kShape,
                         absl::StrCat("What shape is the ", ColorName(color), " object?"),
                         ShapeName(o.shape),
                         absl::StrCat("The ", ColorName(color), " object is ",
                                      Article(ShapeName(o.shape)), " ", ShapeName(o.shape), ".")));
      }
    }
  }
  std::vector<const ShapeObject*> nameable;
  for (const ShapeObject& o : scene.objects) {
    if (UniqueByColorShape(scene, o)) nameable.push_back(&o);
  }
  if (!nameable.empty()) {
    const ShapeObject& o = *draws.Pick(nameable);
    out.push_back(Qa(QaKind::kSize, absl::StrCat("What size is the ", ObjectPhrase(o, false), "?"),
                     SizeName(o.size),
                     absl::StrCat("The ", ObjectPhrase(o, false), " is ", SizeName(o.size), ".")));
  }
}

void AskCounts(const Scene& scene, Draws& draws, std::vector<QaPair>& out) {
  out.push_back(Qa(QaKind::kCount, "How many objects are there?",
                   CountWord(static_cast<int>(scene.objects.size()))));
  // A present colour (picked through a random object, so common colours come up more) or an
  // absent one: at most four objects never use all six colours or all five shapes, so the
  // loops end.
  const bool present_color = draws.Chance(kCountPresentFraction);
  Color color = draws.Pick(scene.objects).color;
  if (!present_color) {
    do {
      color = static_cast<Color>(draws.Below(kNumColors));
    } while (CountObjects(scene, std::nullopt, color) > 0);
  }
  out.push_back(Qa(QaKind::kCount,
                   absl::StrCat("How many ", ColorName(color), " objects are there?"),
                   CountWord(CountObjects(scene, std::nullopt, color))));
  const bool present_shape = draws.Chance(kCountPresentFraction);
  Shape shape = draws.Pick(scene.objects).shape;
  if (!present_shape) {
    do {
      shape = static_cast<Shape>(draws.Below(kNumShapes));
    } while (CountObjects(scene, shape, std::nullopt) > 0);
  }
  out.push_back(Qa(QaKind::kCount, absl::StrCat("How many ", ShapePlural(shape), " are there?"),
                   CountWord(CountObjects(scene, shape, std::nullopt))));
}

std::string ExistQuestion(Color color, Shape shape) {
  const std::string color_word = ColorName(color);
  return absl::StrCat("Is there ", Article(color_word), " ", color_word, " ", ShapeName(shape),
                      "?");
}

void AskExistence(const Scene& scene, Draws& draws, std::vector<QaPair>& out) {
  const ShapeObject& present = draws.Pick(scene.objects);
  out.push_back(Qa(QaKind::kExist, ExistQuestion(present.color, present.shape), "yes"));
  // An object of the scene with its colour or its shape changed: the question's words are
  // those of the scene, only their binding is wrong. Four objects leave free combinations for
  // either change, so the loop ends.
  const ShapeObject& base = draws.Pick(scene.objects);
  Color color = base.color;
  Shape shape = base.shape;
  const bool change_color = draws.Chance(0.5);
  do {
    if (change_color) {
      color = static_cast<Color>(draws.Below(kNumColors));
    } else {
      shape = static_cast<Shape>(draws.Below(kNumShapes));
    }
  } while (CountObjects(scene, shape, color) > 0);
  out.push_back(Qa(QaKind::kExist, ExistQuestion(color, shape), "no"));
}

void AskSpatial(const Scene& scene, Draws& draws, std::vector<QaPair>& out) {
  std::vector<QaPair> candidates;
  for (const ShapeObject& reference : scene.objects) {
    if (!UniqueByColorShape(scene, reference)) continue;
    for (int d = 0; d < kNumDirections; ++d) {
      const Direction direction = static_cast<Direction>(d);
      const ShapeObject* answer = nullptr;
      int n_clear = 0, n_ambiguous = 0;
      for (const ShapeObject& o : scene.objects) {
        if (&o == &reference) continue;
        const Placement p = PlacementOf(o, reference, direction);
        if (p == Placement::kClear) {
          ++n_clear;
          answer = &o;
        } else if (p == Placement::kAmbiguous) {
          ++n_ambiguous;
        }
      }
      if (n_clear != 1 || n_ambiguous != 0) continue;
      candidates.push_back(Qa(QaKind::kSpatial,
                              absl::StrCat("What is ", DirectionPhrase(direction), " the ",
                                           ObjectPhrase(reference, false), "?"),
                              ObjectPhrase(*answer, false)));
    }
  }
  draws.Shuffle(candidates);
  for (size_t i = 0; i < candidates.size() && i < kMaxSpatialQuestions; ++i) {
    out.push_back(candidates[i]);
  }
}

}  // namespace

const char* QaKindName(QaKind kind) {
  switch (kind) {
    case QaKind::kColor:
      return "color";
    case QaKind::kShape:
      return "shape";
    case QaKind::kSize:
      return "size";
    case QaKind::kCount:
      return "count";
    case QaKind::kExist:
      return "exist";
    case QaKind::kSpatial:
      return "spatial";
    case QaKind::kMatch:
      return "match";
  }
  return "?";
}

std::string HardNegativeCaption(const Scene& scene, Draws& draws) {
  const std::string truth = Caption(scene);
  while (true) {
    Scene changed = scene;
    ShapeObject& o = changed.objects[draws.Below(static_cast<int>(changed.objects.size()))];
    switch (draws.Below(4)) {
      case 0:
        o.color = static_cast<Color>(draws.Below(kNumColors));
        break;
      case 1:
        o.shape = static_cast<Shape>(draws.Below(kNumShapes));
        break;
      case 2:
        o.size = o.size == Size::kSmall ? Size::kLarge : Size::kSmall;
        break;
      default:
        changed.background = static_cast<Background>(draws.Below(kNumBackgrounds));
        break;
    }
    std::string caption = Caption(changed);
    if (caption != truth) return caption;
  }
}

SceneQuestions AskQuestions(const Scene& scene, uint64_t seed) {
  Draws draws(seed, DrawStream::kQuestions, static_cast<uint64_t>(scene.index));
  SceneQuestions q;
  AskAttributes(scene, draws, q.short_answers);
  AskCounts(scene, draws, q.short_answers);
  AskExistence(scene, draws, q.short_answers);
  AskSpatial(scene, draws, q.short_answers);

  const std::string caption = Caption(scene);
  const bool truth = draws.Chance(0.5);
  const std::string shown = truth ? caption : HardNegativeCaption(scene, draws);
  q.true_false = Qa(QaKind::kMatch,
                    absl::StrCat("Is the following sentence a correct description of this image? "
                                 "\"",
                                 shown, "\" Answer True or False."),
                    truth ? "True" : "False");

  q.choice.choices = {caption};
  while (q.choice.choices.size() < 4) {
    std::string negative = HardNegativeCaption(scene, draws);
    bool seen = false;
    for (const std::string& c : q.choice.choices) seen = seen || c == negative;
    if (!seen) q.choice.choices.push_back(std::move(negative));
  }
  q.choice.answer_index = draws.Below(4);
  std::swap(q.choice.choices[0], q.choice.choices[q.choice.answer_index]);
  q.choice.question = "Which of the following sentences describes this image?";
  for (int k = 0; k < 4; ++k) {
    absl::StrAppend(&q.choice.question, "\n", std::string(1, kLetters[k]), ". ",
                    q.choice.choices[k]);
  }
  absl::StrAppend(&q.choice.question, "\nAnswer with the sentence.");
  return q;
}

}  // namespace lmeye::synth
