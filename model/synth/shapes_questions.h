// Questions about a shapes-world scene, each answerable only from the image AND the question:
//
//   color    "What color is the triangle?"            asked only when exactly one triangle
//   shape    "What shape is the red object?"          only when exactly one red object
//   size     "What size is the red triangle?"         one per scene, an object unique by colour
//                                                     and shape
//   count    "How many objects are there?", "How many red objects are there?",
//            "How many circles are there?"            words "zero".."four"; the asked colour or
//                                                     shape is present 70 % of the time
//   exist    "Is there a blue square?"                one "yes" and one "no" per scene (balanced);
//                                                     the "no" is a present object with its colour
//                                                     or shape changed, so the words alone cannot
//                                                     tell
//   spatial  "What is to the left of the red circle?" -> "blue square"; up to two per scene, only
//            where the reference is unique by colour and shape, exactly one object is clearly in
//            that direction (PlacementOf) and none is ambiguously so
//   match    "Is the following sentence a correct description of this image? \"...\" Answer True
//            or False."                               half true (the caption), half a hard negative
//   choice   "Which of the following sentences describes this image?\nA. ...\nD. ...\nAnswer
//            with the sentence."                      the caption among three hard negatives
//
// Hard negatives are captions of the scene with one attribute of one object (colour, shape or
// size) or the background changed: they differ from the truth in one word. The match prompt is
// model/train/matching_data.h's. The choice prompt asks for the sentence, not its letter (which
// matching_data.h asks for): AnswerVQA with choices scores each choice's TEXT as the answer's
// continuation, so the dataset trains the choice question with the correct caption as its answer.
//
// Because shapes and colours are drawn independently (shapes_world.h), the answer to a question
// text varies across scenes. Answers are single short phrases, exact-match evaluable.
// Deterministic in (seed, scene.index) through the scene's kQuestions stream. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/synth/draws.h"
#include "model/synth/shapes_world.h"

namespace lmeye::synth {

enum class QaKind { kColor, kShape, kSize, kCount, kExist, kSpatial, kMatch };

// "color", "shape", "size", "count", "exist", "spatial", "match" (eval_vqa.jsonl's
// "question_type").
const char* QaKindName(QaKind kind);

struct QaPair {
  QaKind kind = QaKind::kColor;
  std::string question;
  std::string answer;
  // The answer as a sentence that first restates what the question names ("The triangle is
  // red."): attribute questions only, for the LM's text (text_restate.jsonl); else empty.
  std::string sentence;
};

struct ChoiceQuestion {
  std::string question;  // lists the choices with letters A-D
  std::vector<std::string> choices;
  int answer_index = 0;
};

struct SceneQuestions {
  std::vector<QaPair> short_answers;  // color .. spatial, in that order of kinds
  QaPair true_false;                  // kind kMatch
  ChoiceQuestion choice;
};

SceneQuestions AskQuestions(const Scene& scene, uint64_t seed);

// A caption of `scene` with one attribute changed (see above); never equal to Caption(scene).
std::string HardNegativeCaption(const Scene& scene, Draws& draws);

}  // namespace lmeye::synth
