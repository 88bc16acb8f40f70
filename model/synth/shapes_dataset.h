// Writes a shapes-world dataset (`lmeye data shapes`) into a directory. Image paths in every
// file are relative to that directory, so it can be moved whole.
//
// Training manifests (model/train/manifest.h):
//   captions.jsonl       {"image", "caption"}: the short caption (align stage)
//   clip.jsonl           the clip stage's pairs: the caption in attribute order (ClipCaption)
//                        with "negatives" (two objects' colours, shapes or sizes swapped:
//                        binding hard negatives; one object's colour or shape changed) and
//                        "labels" (each object alone: "a large red circle")
//   instruct.jsonl       per image, in this order: one VQA line {"image", "question", "answer"}
//                        for every short-answer question (color, shape, size, count, exist,
//                        spatial), the true/false matching question (answer "True"/"False") and
//                        the four-choice caption question (answer: the correct caption's TEXT,
//                        which is what AnswerVQA with choices scores); then the detailed
//                        description as a caption line {"image", "caption"}. The instruct stage
//                        trains VQA lines under AnswerVQA's short prompt and caption lines under
//                        the Describe prompt: the prompts the evaluation sends.
//   text.jsonl           {"text"}: caption, description, and every instruct question as
//                        "Question: Q\nAnswer: A" (AnswerVQA's surface form), for LM pretraining
//   text_restate.jsonl   {"text"}: the attribute questions answered in a sentence that restates
//                        what they ask about ("Question: What color is the triangle?\nAnswer: The
//                        triangle is red."): text on which a small LM learns to copy from its
//                        prompt (not used by deploy/train-demo.sh yet)
// Evaluation files (model/eval/datasets.h's generic JSONL, `lmeye_client eval --task T`):
//   eval_vqa.jsonl       --task vqa: {"question_id": "NNNNNN_K", "image", "question", "answers":
//                        the answer kVqaAnswerCopies times, "question_type": the kind (color,
//                        shape, size, count, exist, spatial, match), "answer_type": "yes/no"
//                        (exist, match), "number" (count) or "other"}; the report's
//                        perQuestionType breakdown is the accuracy per kind
//   eval_choice.jsonl    --task choice: {"question_id", "image", "question", "choices" (four
//                        captions), "answer": index of the correct one, "question_type": "choice"}
//   eval_describe.jsonl  --task describe: {"image_id": "NNNNNN", "image", "references":
//                        [description]}
// The evaluation files hold the same questions as instruct.jsonl: evaluate on a held-out set,
// i.e. a run with another --seed (scenes and questions depend only on (seed, index)).
// Other files:
//   images/NNNNNN.png    the scenes, image_size x image_size RGB (shapes_render.h)
//   scenes.jsonl         the scene graph per image: background, tone, objects with shape, color,
//                        size, x, y (centre, fractions of the side), extent
//   meta.json            seed, counts (per file, eval_vqa per kind), vocabulary, image size
//
// Scene k depends only on (seed, k), so --n 100 is a prefix of --n 1000. Same options, same bytes
// in every file. Existing files of the same names are overwritten; nothing else in the directory
// is touched. Thread-compatible (one call at a time per directory).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye::synth {

// VQA accuracy gives min(1, matching humans among the other nine / 3): ten identical answers
// make a correct prediction score 1. With identical answers vqaEval does not normalise, so the
// prediction must equal the answer exactly (after trimming whitespace).
inline constexpr int kVqaAnswerCopies = 10;

struct ShapesDatasetOptions {
  std::string out_dir;
  int n_images = 1000;
  uint64_t seed = 0;
  int image_size = 128;
  // Only what the clip stage reads: images/, clip.jsonl, scenes.jsonl and meta.json, so that a
  // large CLIP-only set stays cheap. 144000 scenes with every file: 2.0 GB in 92 s; 128000
  // clip-only scenes: 66 s.
  bool clip_only = false;
};

struct ShapesDatasetSummary {
  int n_images = 0;
  int n_instruct = 0;       // instruct.jsonl lines
  int n_text = 0;           // text.jsonl lines
  int n_text_restate = 0;   // text_restate.jsonl lines
  int n_eval_vqa = 0;       // eval_vqa.jsonl lines
  int n_eval_choice = 0;    // eval_choice.jsonl lines
  int n_eval_describe = 0;  // eval_describe.jsonl lines
  std::map<std::string, int> eval_vqa_by_kind;
};

// InvalidArgument naming the field: empty out_dir, n_images < 1, image_size outside
// [kMinImageSize, kMaxImageSize].
absl::Status ValidateShapesOptions(const ShapesDatasetOptions& options);

// Validates, creates out_dir and out_dir/images, writes every file above (clip_only: those it
// names). Internal naming the file on an I/O failure (files written so far stay).
absl::StatusOr<ShapesDatasetSummary> WriteShapesDataset(const ShapesDatasetOptions& options);

}  // namespace lmeye::synth
