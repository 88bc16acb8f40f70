#include "model/tokenizer/sentencepiece_tokenizer.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/common/status_macros.h"
#include "model/common/file_util.h"

namespace lmeye {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 "▁"
// What SentencePiece prints for <unk>: U+2047 between spaces.
constexpr absl::string_view kUnknownSurface = " \xe2\x81\x87 ";

}  // namespace

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(
    const std::string& model_path, TokenizerFamily family) {
  LMEYE_ASSIGN_OR_RETURN(std::string serialized, ReadFileToString(model_path));
  if (serialized.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": not a SentencePiece model: empty file"));
  }
  auto model = SpmModel::FromSerialized(serialized);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(model_path, ": ", model.status().message()));
  }
  return FromModel(std::move(model).value(), model_path, family);
}

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::FromModel(
    SpmModel model, const std::string& source, TokenizerFamily family) {
  auto tok = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(family));
  tok->path_ = source;
  tok->spm_ = std::move(model);
  const int n = tok->spm_.piece_size();
  if (n <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": SentencePiece model has no pieces"));
  }

  // With a dummy-prefix space, decoding drops it again at the start of a text.
  const bool dummy_prefix = tok->spm_.normalizer_options().add_dummy_prefix;

  tok->token_bytes_.resize(n);
  tok->strip_at_start_.assign(n, false);
  for (int id = 0; id < n; ++id) {
    const std::string& piece = tok->spm_.IdToPiece(id);
    std::string& bytes = tok->token_bytes_[id];
    if (tok->spm_.IsControl(id)) continue;
    if (tok->spm_.IsUnknown(id)) {
      bytes = std::string(kUnknownSurface);
      continue;
    }
    if (tok->spm_.IsByte(id)) {
      // "<0xNN>"
      int value = -1;
      if (piece.size() == 6 && absl::StartsWith(piece, "<0x") &&
          absl::SimpleHexAtoi(absl::string_view(piece).substr(3, 2), &value)) {
        bytes = std::string(1, static_cast<char>(value));
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": byte piece ", id, " is not of the form <0xNN>: ", piece));
    }
    bytes = absl::StrReplaceAll(piece, {{kSpaceSymbol, " "}});
    tok->strip_at_start_[id] = dummy_prefix && absl::StartsWith(piece, kSpaceSymbol);
  }
  return tok;
}

absl::StatusOr<std::vector<int>> SentencePieceTokenizer::Encode(absl::string_view text) const {
  return spm_.Encode(text);
}

absl::StatusOr<std::string> SentencePieceTokenizer::ReferenceDecode(
    const std::vector<int>& ids) const {
  for (int id : ids) {
    if (id < 0 || id >= BaseVocabSize()) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " out of range"));
    }
  }
  return spm_.Decode(ids);
}

absl::string_view SentencePieceTokenizer::BaseTokenBytes(int id, bool at_text_start) const {
  absl::string_view bytes = token_bytes_[id];
  if (at_text_start && strip_at_start_[id]) bytes.remove_prefix(1);
  return bytes;
}

std::optional<int> SentencePieceTokenizer::BasePieceToId(absl::string_view piece) const {
  const int id = spm_.PieceToId(piece);
  // PieceToId answers unk_id for anything absent: only trust it when it round-trips.
  if (id < 0 || id >= BaseVocabSize() || spm_.IdToPiece(id) != piece) return std::nullopt;
  return id;
}

}  // namespace lmeye
