// The paper's image-text matching data for the instruct stage, built from a caption set: for
// each caption record, a "True or False" question about one caption (its own or, half the
// time, another image's) and a four-choice question (its caption among three taken from other
// images, at a random letter). The records are conversations (one question, one answer) that
// WriteConversationManifest writes as a LLaVA-format manifest for `lmeye train`.
//
// Deterministic in `seed`. Torch-free; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/train/manifest.h"

namespace lmeye {

struct MatchingOptions {
  uint64_t seed = 0;
  bool true_false = true;
  bool four_choice = true;
};

// InvalidArgument when the captions offer too few distinct other captions (2 distinct captions
// for true/false, 4 for four-choice).
absl::StatusOr<std::vector<ManifestRecord>> BuildMatchingRecords(const Manifest& captions,
                                                                 const MatchingOptions& options);

// One JSON line per record ({"image", "conversations"}, {"image", "caption"} with its
// "negatives" and "labels" if any, or {"image", "question", "answer"}), image paths relative to
// `path`'s directory when under it, absolute otherwise; temp file + rename. ReadManifest reads
// the file back as the same records.
absl::Status WriteManifest(const std::string& path, const std::vector<ManifestRecord>& records);

}  // namespace lmeye
