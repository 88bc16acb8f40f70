// Writes a shapes-world dataset (`lmeye data shapes`) into a directory. Image paths in every
// file are relative to that directory, so it can be moved whole.
//
//   images/NNNNNN.png  the scenes, image_size x image_size RGB (shapes_render.h)
//   captions.jsonl     {"image", "caption"}                              model/train/manifest.h
//   instruct.jsonl     {"image", "conversations": [{"from": "human", "value": Q},
//                      {"from": "gpt", "value": A}]}: one line per short-answer question
//                      (color, shape, size, count, exist, spatial) and one "Give a detailed
//                      description of this image." -> description per image
//   text.jsonl         {"text"}: captions, descriptions and "Question: Q\nAnswer: A" for LM
//                      pretraining
//   qa.jsonl           evaluation: {"question_id", "image", "question", "answer", "kind"} for the
//                      short-answer kinds and "match" (True/False with hard negatives), and
//                      {"question_id", "image", "question", "choices", "answer_index", "answer",
//                      "kind": "choice"} ("answer" is the correct choice's text, so
//                      model/eval/datasets.h reads the line as a choice item)
//   scenes.jsonl       the scene graph per image: background, tone, objects with shape, color,
//                      size, x, y (centre, fractions of the side), extent
//   meta.json          seed, counts, vocabulary, image size
//
// The matching data of the instruct stage (matching.jsonl) is built from captions.jsonl by the
// caller with model/train/matching_data.h: that builder lives in the torch-linked training
// library, and this one stays torch-free.
//
// Scene k depends only on (seed, k), so --n 100 is a prefix of --n 1000; a held-out set is a run
// with another seed. Same options, same bytes in every file. Existing files of the same names are
// overwritten; nothing else in the directory is touched. Thread-compatible (one call at a time
// per directory).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye::synth {

inline constexpr char kDescribePrompt[] = "Give a detailed description of this image.";

struct ShapesDatasetOptions {
  std::string out_dir;
  int n_images = 1000;
  uint64_t seed = 0;
  int image_size = 128;
};

struct ShapesDatasetSummary {
  int n_images = 0;
  int n_instruct = 0;  // instruct.jsonl lines
  int n_text = 0;      // text.jsonl lines
  int n_qa = 0;        // qa.jsonl lines
  std::map<std::string, int> qa_by_kind;
};

// InvalidArgument naming the field: empty out_dir, n_images < 1, image_size outside
// [kMinImageSize, kMaxImageSize].
absl::Status ValidateShapesOptions(const ShapesDatasetOptions& options);

// Validates, creates out_dir and out_dir/images, writes every file above. Internal naming the
// file on an I/O failure (files written so far stay).
absl::StatusOr<ShapesDatasetSummary> WriteShapesDataset(const ShapesDatasetOptions& options);

}  // namespace lmeye::synth
