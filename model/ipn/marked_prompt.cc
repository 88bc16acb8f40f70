#include "model/ipn/marked_prompt.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"

namespace lmeye {
namespace {

struct Piece {
  enum Kind { kText, kImage, kQuery, kSlot } kind;
  absl::string_view text;  // kText only
};

// `tmpl` split at its markers: <img-d>, <img-q> when the layout has a request token, <img> when
// the layout has an image marker (else "<img>" is text).
std::vector<Piece> Split(absl::string_view tmpl, const MarkedPromptOptions& options) {
  struct Marker {
    absl::string_view text;
    Piece::Kind kind;
    bool used;
  };
  const Marker markers[] = {{kSlotMarker, Piece::kSlot, true},
                            {kQueryMarker, Piece::kQuery, options.query_token_id >= 0},
                            {kImageMarker, Piece::kImage, options.image_marker}};
  std::vector<Piece> pieces;
  size_t start = 0;
  for (;;) {
    // The earliest marker; they never match at the same place ("<img>" needs its ">").
    size_t at = absl::string_view::npos;
    const Marker* found = nullptr;
    for (const Marker& m : markers) {
      const size_t pos = m.used ? tmpl.find(m.text, start) : absl::string_view::npos;
      if (pos < at) {
        at = pos;
        found = &m;
      }
    }
    pieces.push_back({Piece::kText,
                      tmpl.substr(start, found == nullptr ? absl::string_view::npos : at - start)});
    if (found == nullptr) break;
    pieces.push_back({found->kind, {}});
    start = at + found->text.size();
  }
  return pieces;
}

}  // namespace

PromptTemplates LingcloudV01PromptTemplates(int n_slots) {
  std::string markers = absl::StrCat(" ", kQueryMarker);
  for (int k = 0; k < n_slots; ++k) absl::StrAppend(&markers, " ", kSlotMarker);
  // app_demo.py: "Human: <img>\n" + prompt + "\n <img-q> <img-d> x5\nAssistant:", where "<img>"
  // is text the tokenizer sees.
  auto around = [&](absl::string_view prompt) {
    return absl::StrCat("Human: <img>\n", prompt, "\n", markers, "\nAssistant:");
  };
  PromptTemplates t;
  t.vqa_short = around("Answer the question in one word or phrase. Question: {q}");
  t.multiple_choice = t.vqa_short;
  t.vqa_long = around("Give detailed answer for this question. Question: {q}");
  t.describe = around("Describe the following image in detail.");
  t.chat_last = around("{q}");
  t.chat_turn = "Human: {q}\nAssistant: {a}\n";
  return t;
}

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

absl::Status ValidateMarkedTemplates(const PromptTemplates& templates,
                                     const MarkedPromptOptions& options) {
  const int want_images = options.image_marker ? 1 : 0;
  const int want_queries = options.query_token_id >= 0 ? 1 : 0;
  std::string wanted;
  if (want_images > 0) absl::StrAppend(&wanted, "one ", kImageMarker, ", then ");
  if (want_queries > 0) absl::StrAppend(&wanted, "one ", kQueryMarker, ", then ");
  absl::StrAppend(&wanted, options.n_slots, " ", kSlotMarker);
  for (const auto& [name, member] : PromptTemplateFields()) {
    const std::string& tmpl = templates.*member;
    int images = 0, queries = 0, slots = 0;
    bool out_of_order = false;
    for (const Piece& p : Split(tmpl, options)) {
      if (p.kind == Piece::kImage) {
        out_of_order = out_of_order || queries + slots > 0;
        ++images;
      }
      if (p.kind == Piece::kQuery) {
        out_of_order = out_of_order || images < want_images || slots > 0;
        ++queries;
      }
      if (p.kind == Piece::kSlot) {
        out_of_order = out_of_order || images < want_images || queries < want_queries;
        ++slots;
      }
    }
    const bool image_template = name != "chat_turn";
    if (!image_template && images + queries + slots > 0) {
      return absl::InvalidArgumentError(absl::StrCat("prompts.", name, ": must not hold ",
                                                     kImageMarker, ", ", kQueryMarker, " or ",
                                                     kSlotMarker));
    }
    if (image_template && (images != want_images || queries != want_queries ||
                           slots != options.n_slots || out_of_order)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompts.", name, ": this model's prompts hold ", wanted, " (it has ", images, " ",
          kImageMarker, ", ", queries, " ", kQueryMarker, " and ", slots, " ", kSlotMarker, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IpnPrompt> BuildMarkedPrompt(const Tokenizer& tokenizer, absl::string_view tmpl,
                                            absl::string_view q, absl::string_view before,
                                            const MarkedPromptOptions& options) {
  IpnPrompt prompt;
  if (options.add_bos) prompt.prefix.push_back(tokenizer.bos_id());
  // Then text, then tail; without an image marker the image precedes everything, so text.
  std::vector<int>* out = options.image_marker ? &prompt.prefix : &prompt.text;
  const std::vector<Piece> pieces = Split(tmpl, options);
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
    if (p.kind == Piece::kQuery) {
      out->push_back(options.query_token_id);
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
  if (options.add_eos) prompt.tail.push_back(tokenizer.eos_id());
  return prompt;
}

MarkedPromptOptions LingcloudV0MarkedPrompts(const LingcloudV0Config& v0) {
  MarkedPromptOptions marked;
  marked.n_slots = v0.query_len;
  marked.strip_around_markers = v0.strip_around_image_tokens;
  marked.add_bos = v0.add_bos;
  return marked;
}

MarkedPromptOptions LingcloudV01MarkedPrompts(const LingcloudV01Config& v01) {
  MarkedPromptOptions marked;
  marked.n_slots = v01.imgd_len;
  marked.image_marker = false;
  marked.query_token_id = static_cast<int>(v01.imgq_token_id);
  marked.add_eos = true;  // T5's add_special_tokens
  return marked;
}

}  // namespace lmeye
