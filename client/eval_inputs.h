// What `lmeye_client eval` reads before calling the server: the dataset the flags name, and
// where each item's image file is. Images are only located here; they are read by the runner
// one item at a time, so a large dataset is never held in memory as image bytes.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "client/client_options.h"
#include "model/eval/datasets.h"

namespace lmeye::client {

// VQAv2 / OK-VQA (--data questions + --annotations) or model/eval's ReadDataset (generic JSONL,
// LMEye long-answer file), cut to --limit items. NOT_FOUND when a file cannot be read,
// INVALID_ARGUMENT (file, line, field) when it is malformed.
absl::StatusOr<eval::EvalDataset> LoadEvalDataset(const ClientOptions& options);

// How image paths written in a dataset become files.
struct ImageLocator {
  std::string root;     // relative paths are relative to this ("" = the working directory)
  std::string pattern;  // --image-pattern, for items without a path
};

// root = --images, or the directory of --data.
ImageLocator MakeImageLocator(const ClientOptions& options);

// The file of `item`'s image: its path (absolute as is, relative under root), or the pattern
// filled with its image_id. NOT_FOUND when it has neither (the caller names the item).
absl::StatusOr<std::string> ImagePathOf(const eval::EvalItem& item, const ImageLocator& locator);

// `{image_id}` -> the id; `{image_id:0N}` -> the id zero-padded to N digits (COCO file names).
// INVALID_ARGUMENT for another `{...}` field or a padded id that is not a number.
absl::StatusOr<std::string> ExpandImagePattern(const std::string& pattern,
                                               const std::string& image_id);

// --predictions / --report, or "<task>_predictions.json" / "<task>_report.json".
std::string PredictionsPath(const ClientOptions& options);
std::string ReportPath(const ClientOptions& options);

}  // namespace lmeye::client
