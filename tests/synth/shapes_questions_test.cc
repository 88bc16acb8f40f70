// Every question's answer checked against the scene graph by an independent reading of the
// question; balance of existence answers; answers to the same question text that vary across
// scenes (the question alone never gives the answer); the matching tasks' hard negatives.
#include "model/synth/shapes_questions.h"

#include <map>
#include <optional>
#include <set>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/synth/shapes_text.h"

namespace lmeye::synth {
namespace {

constexpr int kScenes = 1500;
constexpr uint64_t kSeed = 21;

std::optional<Shape> ShapeNamed(absl::string_view word) {
  for (int s = 0; s < kNumShapes; ++s) {
    const Shape shape = static_cast<Shape>(s);
    if (word == ShapeName(shape) || word == ShapePlural(shape)) return shape;
  }
  return std::nullopt;
}

std::optional<Color> ColorNamed(absl::string_view word) {
  for (int c = 0; c < kNumColors; ++c) {
    if (word == ColorName(static_cast<Color>(c))) return static_cast<Color>(c);
  }
  return std::nullopt;
}

// The one object named "C S" ("red triangle"); fails the test when it is not unique.
const ShapeObject* Named(const Scene& scene, absl::string_view phrase) {
  const std::vector<std::string> words = absl::StrSplit(phrase, ' ');
  EXPECT_EQ(words.size(), 2u) << phrase;
  if (words.size() != 2) return nullptr;
  const ShapeObject* found = nullptr;
  int n = 0;
  for (const ShapeObject& o : scene.objects) {
    if (ColorNamed(words[0]) == o.color && ShapeNamed(words[1]) == o.shape) {
      found = &o;
      ++n;
    }
  }
  EXPECT_EQ(n, 1) << "\"" << phrase << "\" must name exactly one object";
  return n == 1 ? found : nullptr;
}

// The answer to `q` computed from the graph, or "" (with a test failure) when the question is
// not one of the documented forms or not well defined for the scene.
std::string Solve(const Scene& scene, const QaPair& q) {
  absl::string_view text = q.question;
  if (absl::ConsumePrefix(&text, "What color is the ") && absl::ConsumeSuffix(&text, "?")) {
    const std::optional<Shape> shape = ShapeNamed(text);
    EXPECT_EQ(CountObjects(scene, shape, std::nullopt), 1) << q.question;
    for (const ShapeObject& o : scene.objects) {
      if (o.shape == shape) return ColorName(o.color);
    }
  } else if (absl::ConsumePrefix(&text, "What shape is the ") &&
             absl::ConsumeSuffix(&text, " object?")) {
    const std::optional<Color> color = ColorNamed(text);
    EXPECT_EQ(CountObjects(scene, std::nullopt, color), 1) << q.question;
    for (const ShapeObject& o : scene.objects) {
      if (o.color == color) return ShapeName(o.shape);
    }
  } else if (absl::ConsumePrefix(&text, "What size is the ") && absl::ConsumeSuffix(&text, "?")) {
    if (const ShapeObject* o = Named(scene, text)) return SizeName(o->size);
  } else if (text == "How many objects are there?") {
    return CountWord(static_cast<int>(scene.objects.size()));
  } else if (absl::ConsumePrefix(&text, "How many ") && absl::ConsumeSuffix(&text, " are there?")) {
    if (absl::ConsumeSuffix(&text, " objects")) {
      return CountWord(CountObjects(scene, std::nullopt, ColorNamed(text).value()));
    }
    return CountWord(CountObjects(scene, ShapeNamed(text).value(), std::nullopt));
  } else if (absl::ConsumePrefix(&text, "Is there ") && absl::ConsumeSuffix(&text, "?")) {
    if (!absl::ConsumePrefix(&text, "an ")) {
      EXPECT_TRUE(absl::ConsumePrefix(&text, "a ")) << q.question;
    }
    const std::vector<std::string> words = absl::StrSplit(text, ' ');
    return CountObjects(scene, ShapeNamed(words.at(1)).value(), ColorNamed(words.at(0)).value()) > 0
               ? "yes"
               : "no";
  } else if (absl::ConsumePrefix(&text, "What is ") && absl::ConsumeSuffix(&text, "?")) {
    for (int d = 0; d < kNumDirections; ++d) {
      const Direction direction = static_cast<Direction>(d);
      absl::string_view rest = text;
      if (!absl::ConsumePrefix(&rest, std::string(DirectionPhrase(direction)) + " the ")) continue;
      const ShapeObject* reference = Named(scene, rest);
      if (reference == nullptr) return "";
      const ShapeObject* answer = nullptr;
      for (const ShapeObject& o : scene.objects) {
        if (&o == reference) continue;
        const Placement p = PlacementOf(o, *reference, direction);
        EXPECT_NE(p, Placement::kAmbiguous) << q.question;
        if (p == Placement::kClear) {
          EXPECT_EQ(answer, nullptr) << "two answers to " << q.question;
          answer = &o;
        }
      }
      return answer == nullptr ? "" : ObjectPhrase(*answer, false);
    }
  }
  ADD_FAILURE() << "unexpected question: " << q.question;
  return "";
}

TEST(ShapesQuestionsTest, EveryAnswerMatchesTheSceneGraph) {
  std::map<std::string, int> by_kind;
  for (int i = 0; i < kScenes; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    for (const QaPair& q : AskQuestions(scene, kSeed).short_answers) {
      ++by_kind[QaKindName(q.kind)];
      ASSERT_EQ(Solve(scene, q), q.answer) << "scene " << i << ": " << q.question;
      EXPECT_EQ(q.answer.find(' ') == std::string::npos || q.kind == QaKind::kSpatial, true)
          << q.answer;
    }
  }
  for (const char* kind : {"color", "shape", "size", "count", "exist", "spatial"}) {
    EXPECT_GT(by_kind[kind], kScenes / 4) << kind;
  }
}

TEST(ShapesQuestionsTest, ExistenceIsBalanced) {
  for (int i = 0; i < 300; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    int yes = 0, no = 0;
    for (const QaPair& q : AskQuestions(scene, kSeed).short_answers) {
      if (q.kind != QaKind::kExist) continue;
      yes += q.answer == "yes";
      no += q.answer == "no";
    }
    EXPECT_EQ(yes, 1);
    EXPECT_EQ(no, 1);
  }
}

TEST(ShapesQuestionsTest, TheQuestionAloneDoesNotGiveTheAnswer) {
  std::map<std::string, std::map<std::string, int>> answers;  // question -> answer -> count
  for (int i = 0; i < kScenes; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    for (const QaPair& q : AskQuestions(scene, kSeed).short_answers) {
      ++answers[q.question][q.answer];
    }
  }
  for (int s = 0; s < kNumShapes; ++s) {
    const std::string question =
        std::string("What color is the ") + ShapeName(static_cast<Shape>(s)) + "?";
    const std::map<std::string, int>& by_answer = answers[question];
    ASSERT_EQ(by_answer.size(), static_cast<size_t>(kNumColors)) << question;
    int total = 0, most = 0;
    for (const auto& [answer, n] : by_answer) {
      total += n;
      most = std::max(most, n);
    }
    EXPECT_LT(most, total * 0.3) << question;
  }
  // Every question text asked often enough has more than one answer (apart from "How many
  // objects" which is by the image alone too).
  for (const auto& [question, by_answer] : answers) {
    int total = 0;
    for (const auto& [answer, n] : by_answer) total += n;
    if (total >= 30) {
      EXPECT_GT(by_answer.size(), 1u) << question;
    }
  }
}

TEST(ShapesQuestionsTest, MatchingUsesHardNegatives) {
  int n_true = 0;
  for (int i = 0; i < 500; ++i) {
    const Scene scene = SampleScene(kSeed, i);
    const std::string caption = Caption(scene);
    const SceneQuestions q = AskQuestions(scene, kSeed);
    const bool shows_caption = absl::StrContains(q.true_false.question, "\"" + caption + "\"");
    EXPECT_EQ(q.true_false.answer, shows_caption ? "True" : "False");
    n_true += shows_caption;
    ASSERT_EQ(q.choice.choices.size(), 4u);
    EXPECT_EQ(q.choice.choices[q.choice.answer_index], caption);
    EXPECT_EQ(std::set<std::string>(q.choice.choices.begin(), q.choice.choices.end()).size(), 4u);
    for (const std::string& c : q.choice.choices) {
      EXPECT_TRUE(absl::StrContains(q.choice.question, c));
      // A hard negative keeps the caption's length: one word differs.
      const std::vector<std::string> a = absl::StrSplit(c, ' '), b = absl::StrSplit(caption, ' ');
      ASSERT_EQ(a.size(), b.size()) << c;
      int differ = 0;
      for (size_t w = 0; w < a.size(); ++w) differ += a[w] != b[w];
      EXPECT_LE(differ, 1) << c << " vs " << caption;
    }
  }
  EXPECT_NEAR(n_true, 250, 50);
}

TEST(ShapesQuestionsTest, SameSeedSameQuestions) {
  const Scene scene = SampleScene(kSeed, 9);
  const SceneQuestions a = AskQuestions(scene, kSeed), b = AskQuestions(scene, kSeed);
  ASSERT_EQ(a.short_answers.size(), b.short_answers.size());
  for (size_t i = 0; i < a.short_answers.size(); ++i) {
    EXPECT_EQ(a.short_answers[i].question, b.short_answers[i].question);
    EXPECT_EQ(a.short_answers[i].answer, b.short_answers[i].answer);
  }
  EXPECT_EQ(a.choice.question, b.choice.question);
}

}  // namespace
}  // namespace lmeye::synth
