// Training data manifests: JSONL, one example per line, image paths relative to the manifest.
//
//   captions        {"image": "photos/cat.jpg", "caption": "A cat on a sofa."}, optionally with
//                    "negatives" and "labels" (arrays of strings, below; the clip stage's)
//   conversations   {"image": "...", "conversations": [{"from": "human", "value": "<image>\nWhat
//                    is this?"}, {"from": "gpt", "value": "A cat."}, ...]}   (LLaVA's format)
//   vqa             {"image": "...", "question": "What color is the cat?", "answer": "grey"}
//                    (short answers, trained under the AnswerVQA prompt that serving uses)
//
// All kinds may share a file. Roles: "human"/"user" and "gpt"/"assistant" (ChatRoleFromName).
// LLaVA's "<image>" marker is removed from the text: in LMEye the image always sits before the
// conversation (model/ipn/prompt.h), wherever the marker was. A conversation must alternate
// human/assistant starting with human; a trailing human turn (no answer to learn) is dropped.
// Empty lines are ignored; any other line that is not such an object is an issue
// ("manifest.jsonl:12: ...") and is skipped: reading fails only when the file cannot be read.
// Images are not opened here (the trainer decodes them once and reports those it cannot read).
//
// Torch-free; all functions are thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/ipn/prompt.h"

namespace lmeye {

struct ManifestRecord {
  int line = 0;         // 1-based line in the manifest
  std::string image;    // the manifest's directory joined with the line's "image"
  std::string caption;  // caption records
  // Caption records, optional "negatives": captions that do NOT describe the image (e.g. its
  // caption with two objects' colours swapped); the clip stage uses them as hard negatives.
  std::vector<std::string> negatives;
  // Caption records, optional "labels": short texts each true of the image ("a red circle"),
  // the whole list of them for the label set the data uses: the clip stage takes any label of
  // another image that this one lacks as false for it (clip_objective.h).
  std::vector<std::string> labels;
  // Conversation records: human, assistant, human, assistant, ... (never empty, ends with an
  // assistant turn).
  std::vector<ChatMessage> conversation;
  // VQA records.
  std::string question;
  std::string answer;

  bool is_vqa() const { return !question.empty(); }
  bool is_caption() const { return conversation.empty() && !is_vqa(); }
};

// A skipped line and why: "file:line: message" when printed.
struct ManifestIssue {
  int line = 0;
  std::string message;
};

struct Manifest {
  std::string path;
  int n_lines = 0;  // non-empty lines (the denominator of the skip fraction)
  std::vector<ManifestRecord> records;
  std::vector<ManifestIssue> issues;

  std::string IssueText(const ManifestIssue& issue) const;  // "path:line: message"
};

// NotFound / InvalidArgument when `path` cannot be read; every bad line is an issue instead.
absl::StatusOr<Manifest> ReadManifest(const std::string& path);

// Parses one line (no trailing newline); `dir` is prepended to relative image paths.
// InvalidArgument with the reason (without the file:line prefix) when the line is malformed.
absl::StatusOr<ManifestRecord> ParseManifestLine(const std::string& line, const std::string& dir);

}  // namespace lmeye
