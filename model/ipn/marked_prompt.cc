#include "model/ipn/marked_prompt.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

struct Piece {
  enum Kind { kText, kImage, kSlot } kind;
  absl::string_view text;  // kText only
};

// `tmpl` split at its markers.
std::vector<Piece> Split(absl::string_view tmpl) {
  std::vector<Piece> pieces;
  size_t start = 0;
  while (start <= tmpl.size()) {
    const size_t img = tmpl.find(kImageMarker, start), slot = tmpl.find(kSlotMarker, start);
    const size_t at = std::min(img, slot);
    pieces.push_back(
        {Piece::kText,
         tmpl.substr(start, at == absl::string_view::npos ? absl::string_view::npos : at - start)});
    if (at == absl::string_view::npos) break;
    // "<img-d>" starts with "<img" too: the longer marker wins where both match.
    const bool is_slot = at == slot;
    pieces.push_back({is_slot ? Piece::kSlot : Piece::kImage, {}});
    start = at + (is_slot ? kSlotMarker.size() : kImageMarker.size());
  }
  return pieces;
}

}  // namespace

PromptTemplates LingcloudV0PromptTemplates(int n_slots) {
  std::string slots;
  for (int k = 0; k < n_slots; ++k) absl::StrAppend(&slots, " ", kSlotMarker);
  PromptTemplates t;
  const std::string qa =
      absl::StrCat("Image as evidence: ", kImageMarker, "\n Question: {q}", slots, "\nAnswer:");
  const std::string described = absl::StrCat("Image: ", kImageMarker, "\n {q}", slots, "\nAnswer:");
  t.vqa_short = qa;
  t.multiple_choice = qa;
  t.vqa_long = described;
  t.chat_last = described;
  // LLMEye_test.py's default input text, with its spaces.
  t.describe = absl::StrCat("Image: ", kImageMarker,
                            "\n  Give a detailed description of this image. ", slots, "\nAnswer:");
  t.chat_turn = "Human: {q}\nAssistant: {a}\n";
  return t;
}

absl::Status ValidateMarkedTemplates(const PromptTemplates& templates, int n_slots) {
  for (const auto& [name, member] : PromptTemplateFields()) {
    const std::string& tmpl = templates.*member;
    int images = 0, slots = 0;
    bool slot_before_image = false;
    for (const Piece& p : Split(tmpl)) {
      if (p.kind == Piece::kImage) ++images;
      if (p.kind == Piece::kSlot) {
        ++slots;
        slot_before_image = slot_before_image || images == 0;
      }
    }
    const bool image_template = name != "chat_turn";
    if (!image_template && (images > 0 || slots > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompts.", name, ": must not hold ", kImageMarker, " or ", kSlotMarker));
    }
    if (image_template && (images != 1 || slots != n_slots || slot_before_image)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompts.", name, ": this model's prompts hold one ", kImageMarker, " and then ", n_slots,
          " ", kSlotMarker, " (it has ", images, " and ", slots, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IpnPrompt> BuildMarkedPrompt(const Tokenizer& tokenizer, absl::string_view tmpl,
                                            absl::string_view q, absl::string_view before,
                                            const MarkedPromptOptions& options) {
  IpnPrompt prompt;
  if (options.add_bos) prompt.prefix.push_back(tokenizer.bos_id());
  std::vector<int>* out = &prompt.prefix;  // then text, then tail
  const std::vector<Piece> pieces = Split(tmpl);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Piece& p = pieces[i];
    if (p.kind == Piece::kImage) {
      out = &prompt.text;
      continue;
    }
    if (p.kind == Piece::kSlot) {
      out = &prompt.tail;
      out->push_back(kSlotPosition);
      continue;
    }
    std::string text = RenderPromptTemplate(p.text, q);
    if (i == 0) text = absl::StrCat(before, text);
    absl::string_view piece = text;
    if (options.strip_around_markers) {
      if (i > 0) piece = absl::StripLeadingAsciiWhitespace(piece);
      if (i + 1 < pieces.size()) piece = absl::StripTrailingAsciiWhitespace(piece);
    }
    if (piece.empty()) continue;
    LMEYE_ASSIGN_OR_RETURN(std::vector<int> ids, tokenizer.Encode(piece));
    out->insert(out->end(), ids.begin(), ids.end());
  }
  if (prompt.tail.empty() || prompt.tail[0] != kSlotPosition) {
    return absl::InvalidArgumentError("the template has no <img-d> after <img>");
  }
  return prompt;
}

}  // namespace lmeye
