// Text for `lmeye train --stage lm`: a JSONL file of documents, one per line.
//
//   {"text": "Question: What color is the triangle?\nAnswer: red"}
//   {"image": "...", "caption": "A cat on a sofa."}     (a caption manifest works too: its
//                                                         captions are the documents)
//
// Any other line is an issue ("text.jsonl:12: missing \"text\"") and is skipped; empty lines are
// ignored. Torch-free; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/train/manifest.h"  // ManifestIssue

namespace lmeye {

struct TextDocument {
  int line = 0;  // 1-based
  std::string text;
};

struct TextManifest {
  std::string path;
  int n_lines = 0;  // non-empty lines
  std::vector<TextDocument> documents;
  std::vector<ManifestIssue> issues;
};

// NotFound / InvalidArgument when `path` cannot be read; every bad line is an issue instead.
absl::StatusOr<TextManifest> ReadTextManifest(const std::string& path);

}  // namespace lmeye
