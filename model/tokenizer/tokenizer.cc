#include "model/tokenizer/tokenizer.h"

#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/incremental_decoder.h"

namespace lmeye {

absl::StatusOr<std::vector<int>> Tokenizer::Encode(absl::string_view text, bool add_bos) const {
  if (add_bos && bos_id() < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the ", TokenizerFamilyName(family_), " tokenizer has no BOS token"));
  }
  LMEYE_ASSIGN_OR_RETURN(std::vector<int> ids, Encode(text));
  if (add_bos) ids.insert(ids.begin(), bos_id());
  return ids;
}

absl::StatusOr<std::vector<int>> Tokenizer::EncodeForPrompt(absl::string_view text) const {
  LMEYE_ASSIGN_OR_RETURN(std::vector<int> ids, Encode(text, special_tokens_.add_bos));
  for (int id : PromptSuffix()) ids.push_back(id);
  return ids;
}

std::vector<int> Tokenizer::PromptPrefix() const {
  if (special_tokens_.add_bos && special_tokens_.bos_id >= 0) return {special_tokens_.bos_id};
  return {};
}

std::vector<int> Tokenizer::PromptSuffix() const {
  if (special_tokens_.add_eos && special_tokens_.eos_id >= 0) return {special_tokens_.eos_id};
  return {};
}

absl::StatusOr<std::vector<int>> Tokenizer::EncodeWithAddedTokens(absl::string_view text,
                                                                  bool add_special_tokens) const {
  std::vector<int> ids;
  if (add_special_tokens) ids = PromptPrefix();
  const bool strip = GetFamilySpec(family_).strip_around_added_tokens;
  for (const TextSegment& segment : splitter_.Split(text, strip)) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
      continue;
    }
    LMEYE_ASSIGN_OR_RETURN(std::vector<int> segment_ids, Encode(segment.text));
    ids.insert(ids.end(), segment_ids.begin(), segment_ids.end());
  }
  if (add_special_tokens) {
    for (int id : PromptSuffix()) ids.push_back(id);
  }
  return ids;
}

void Tokenizer::RebuildSplitter() {
  splitter_ = AddedTokenSplitter();
  for (const auto& [content, id] : added_by_content_) splitter_.Add(content, id);
  const SpecialTokens& s = special_tokens_;
  for (int id : {s.bos_id, s.eos_id, s.pad_id, s.unk_id}) {
    if (id >= 0) splitter_.Add(IdToPiece(id), id);
  }
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int> ids) const {
  IncrementalDecoder decoder(this, /*at_text_start=*/true);
  std::string text;
  for (int id : ids) LMEYE_RETURN_IF_ERROR(decoder.Push(id, &text));
  decoder.Flush(&text);
  return text;
}

std::string Tokenizer::IdToPiece(int id) const {
  const int base = BaseVocabSize();
  if (id < 0 || id >= vocab_size()) return "";
  if (id >= base) return added_beyond_base_[id - base];
  return BaseIdToPiece(id);
}

std::optional<int> Tokenizer::PieceToId(absl::string_view piece) const {
  if (auto it = added_by_content_.find(piece); it != added_by_content_.end()) return it->second;
  return BasePieceToId(piece);
}

int Tokenizer::vocab_size() const {
  return BaseVocabSize() + static_cast<int>(added_beyond_base_.size());
}

bool Tokenizer::IsSpecial(int id) const {
  if (id < 0 || id >= vocab_size()) return false;
  if (id >= BaseVocabSize()) return true;
  const SpecialTokens& s = special_tokens_;
  if (id == s.bos_id || id == s.eos_id || id == s.pad_id) return true;
  return IsBaseSpecial(id) || added_ids_.contains(id);
}

absl::StatusOr<int> Tokenizer::AddSpecialToken(absl::string_view content) {
  if (content.empty()) return absl::InvalidArgumentError("a special token cannot be empty");
  if (auto it = added_by_content_.find(content); it != added_by_content_.end()) {
    return it->second;
  }
  int id;
  if (std::optional<int> existing = BasePieceToId(content); existing.has_value()) {
    id = *existing;
  } else {
    id = vocab_size();
    added_beyond_base_.emplace_back(content);
  }
  added_by_content_.emplace(std::string(content), id);
  added_ids_.insert(id);
  splitter_.Add(content, id);
  return id;
}

absl::Status Tokenizer::AddSpecialToken(absl::string_view content, int id) {
  if (content.empty()) return absl::InvalidArgumentError("a special token cannot be empty");
  if (auto it = added_by_content_.find(content); it != added_by_content_.end()) {
    if (it->second == id) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("special token '", content,
                                                   "' already has id ", it->second, ", not ", id));
  }
  if (id < 0) return absl::InvalidArgumentError(absl::StrCat("negative token id ", id));
  if (id >= vocab_size() + kMaxReservedGap) {
    return absl::InvalidArgumentError(absl::StrCat("token id ", id, " is more than ",
                                                   kMaxReservedGap, " past the vocabulary (",
                                                   vocab_size(), ")"));
  }
  if (id < vocab_size()) {
    if (IdToPiece(id) != content) {
      return absl::InvalidArgumentError(absl::StrCat("cannot give '", content, "' id ", id,
                                                     ": it is '", IdToPiece(id), "'"));
    }
  } else {
    // Reserve the ids in between (they decode to nothing), then append.
    while (vocab_size() < id) {
      added_ids_.insert(vocab_size());
      added_beyond_base_.emplace_back();
    }
    added_beyond_base_.emplace_back(content);
  }
  added_by_content_.emplace(std::string(content), id);
  added_ids_.insert(id);
  splitter_.Add(content, id);
  return absl::OkStatus();
}

absl::Status Tokenizer::set_special_tokens(const SpecialTokens& tokens) {
  for (int id : {tokens.bos_id, tokens.eos_id, tokens.pad_id, tokens.unk_id}) {
    if (id < -1 || id >= vocab_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("special token id ", id, " outside the vocabulary [0, ", vocab_size(), ")"));
    }
  }
  if (tokens.add_bos && tokens.bos_id < 0) {
    return absl::InvalidArgumentError("add_bos is set but there is no BOS token");
  }
  if (tokens.add_eos && tokens.eos_id < 0) {
    return absl::InvalidArgumentError("add_eos is set but there is no EOS token");
  }
  special_tokens_ = tokens;
  RebuildSplitter();
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> Tokenizer::TokenBytes(int id, bool at_text_start) const {
  if (id < 0 || id >= vocab_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token id ", id, " outside the vocabulary [0, ", vocab_size(), ")"));
  }
  if (IsSpecial(id)) return absl::string_view();
  return BaseTokenBytes(id, at_text_start);
}

}  // namespace lmeye
