// Fuzz target for the training data manifests `lmeye train` reads (model/train/manifest.h,
// text_manifest.h) and the matching data built from and written as one (matching_data.h). The
// first input byte picks the reader, the rest is the file, written to a file of this process
// (the readers take a path):
//   even  ReadManifest (captions, conversations, vqa), then BuildMatchingRecords over it (seed
//         and kinds from the selector) and WriteManifest of both the records read and the
//         matching records, each read back
//   odd   ReadTextManifest (the lm stage's documents)
// Oracles: reading never fails on content (only an unreadable file fails); every non-empty line
// is a record or an issue, in line order; records hold what manifest.h promises (one kind,
// non-blank stripped text, a conversation alternating from human to assistant); what
// WriteManifest writes reads back with no issue as the same records. Seeds:
// corpus/train_manifest.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "model/train/manifest.h"
#include "model/train/matching_data.h"
#include "model/train/text_manifest.h"
#include "tests/fuzz/fuzz_input.h"

namespace lmeye {
namespace {

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "train_manifest: check failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

bool Stripped(const std::string& text) {
  return !text.empty() && absl::StripAsciiWhitespace(text) == text;
}

int NonEmptyLines(const std::string& text) {
  int n = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (!absl::StripAsciiWhitespace(absl::string_view(text).substr(begin, end - begin)).empty()) {
      ++n;
    }
    begin = end + 1;
  }
  return n;
}

void CheckRecord(const ManifestRecord& r) {
  FUZZ_CHECK(!r.image.empty());
  const int kinds = r.is_vqa() + r.is_caption() + !r.conversation.empty();
  FUZZ_CHECK(kinds == 1);
  if (r.is_vqa()) {
    FUZZ_CHECK(Stripped(r.question) && Stripped(r.answer));
    FUZZ_CHECK(r.caption.empty() && r.conversation.empty());
  } else if (r.is_caption()) {
    FUZZ_CHECK(Stripped(r.caption));
  } else {
    FUZZ_CHECK(r.caption.empty() && r.negatives.empty() && r.labels.empty());
    FUZZ_CHECK(r.conversation.size() % 2 == 0);
    for (size_t i = 0; i < r.conversation.size(); ++i) {
      FUZZ_CHECK(r.conversation[i].role == (i % 2 == 0 ? ChatRole::kHuman : ChatRole::kAssistant));
      FUZZ_CHECK(Stripped(r.conversation[i].text));
      // The LLaVA marker is gone: the image has one fixed place in LMEye's prompts.
      FUZZ_CHECK(!absl::StrContains(r.conversation[i].text, "<image>"));
    }
  }
  for (const std::string& s : r.negatives) FUZZ_CHECK(Stripped(s));
  for (const std::string& s : r.labels) FUZZ_CHECK(Stripped(s));
}

void CheckManifest(const Manifest& m, const std::string& text) {
  FUZZ_CHECK(m.n_lines == NonEmptyLines(text));
  FUZZ_CHECK(static_cast<int>(m.records.size() + m.issues.size()) == m.n_lines);
  int last = 0;
  size_t r = 0, i = 0;
  // Records and issues interleave in line order.
  while (r < m.records.size() || i < m.issues.size()) {
    const bool take_record =
        i == m.issues.size() || (r < m.records.size() && m.records[r].line < m.issues[i].line);
    const int line = take_record ? m.records[r++].line : m.issues[i++].line;
    FUZZ_CHECK(line > last);
    last = line;
  }
  for (const ManifestRecord& record : m.records) CheckRecord(record);
  for (const ManifestIssue& issue : m.issues) FUZZ_CHECK(!issue.message.empty());
}

std::string Normal(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// What a conversation turn reads back as: the reader's own normalization (no "<image>", no outer
// whitespace), the identity on text it produced itself.
std::string ReadBackText(std::string text) {
  for (size_t at; (at = text.find("<image>")) != std::string::npos;) text.erase(at, 7);
  return std::string(absl::StripAsciiWhitespace(text));
}

// WriteManifest of `records` at `path`, read back: the same records, no issue.
void CheckRoundTrip(const std::vector<ManifestRecord>& records, const std::string& path) {
  FUZZ_CHECK(WriteManifest(path, records).ok());
  absl::StatusOr<Manifest> back = ReadManifest(path);
  FUZZ_CHECK(back.ok());
  if (!back->issues.empty() || back->records.size() != records.size()) {
    for (const ManifestIssue& issue : back->issues) {
      std::fprintf(stderr, "train_manifest: read back: %s\n", back->IssueText(issue).c_str());
    }
    std::abort();
  }
  for (size_t k = 0; k < records.size(); ++k) {
    const ManifestRecord& a = records[k];
    const ManifestRecord& b = back->records[k];
    FUZZ_CHECK(b.line == static_cast<int>(k) + 1);
    FUZZ_CHECK(Normal(a.image) == Normal(b.image));
    FUZZ_CHECK(a.caption == b.caption && a.question == b.question && a.answer == b.answer);
    FUZZ_CHECK(a.negatives == b.negatives && a.labels == b.labels);
    FUZZ_CHECK(a.conversation.size() == b.conversation.size());
    for (size_t t = 0; t < a.conversation.size(); ++t) {
      FUZZ_CHECK(a.conversation[t].role == b.conversation[t].role);
      FUZZ_CHECK(ReadBackText(a.conversation[t].text) == b.conversation[t].text);
    }
  }
}

}  // namespace
}  // namespace lmeye

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lmeye;  // NOLINT: one function, many names
  static fuzz::TempFile file("manifest.jsonl");
  static fuzz::TempFile rewritten("rewritten.jsonl");
  const fuzz::Selected input = fuzz::Select(data, size);
  const std::string& path = file.Write(input.rest);

  if (input.selector & 1) {
    absl::StatusOr<TextManifest> text = ReadTextManifest(path);
    FUZZ_CHECK(text.ok());
    FUZZ_CHECK(text->n_lines == NonEmptyLines(input.rest));
    FUZZ_CHECK(static_cast<int>(text->documents.size() + text->issues.size()) == text->n_lines);
    for (const TextDocument& doc : text->documents) {
      FUZZ_CHECK(doc.line >= 1 && !absl::StripAsciiWhitespace(doc.text).empty());
    }
    return 0;
  }

  absl::StatusOr<Manifest> manifest = ReadManifest(path);
  FUZZ_CHECK(manifest.ok());
  CheckManifest(*manifest, input.rest);
  // In the manifest's directory, so that relative image paths stay relative.
  const std::string& rewritten_path = rewritten.Write("");
  CheckRoundTrip(manifest->records, rewritten_path);

  MatchingOptions options;
  options.seed = input.selector >> 3;
  options.true_false = (input.selector & 2) != 0;
  options.four_choice = (input.selector & 4) != 0;
  absl::StatusOr<std::vector<ManifestRecord>> matching = BuildMatchingRecords(*manifest, options);
  if (!matching.ok()) {
    FUZZ_CHECK(matching.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  for (const ManifestRecord& record : *matching) {
    FUZZ_CHECK(record.conversation.size() == 2);
    FUZZ_CHECK(record.conversation[0].role == ChatRole::kHuman);
    FUZZ_CHECK(record.conversation[1].role == ChatRole::kAssistant);
  }
  CheckRoundTrip(*matching, rewritten_path);
  return 0;
}
