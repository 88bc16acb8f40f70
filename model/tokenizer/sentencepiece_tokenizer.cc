#include "model/tokenizer/sentencepiece_tokenizer.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "model/common/status_macros.h"
#include "model/tokenizer/tokenizer_files.h"

namespace lmeye {
namespace {

constexpr absl::string_view kSpaceSymbol = "\xe2\x96\x81";  // U+2581 "▁"
// What SentencePiece prints for <unk>: U+2047 between spaces.
constexpr absl::string_view kUnknownSurface = " \xe2\x81\x87 ";

}  // namespace

absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::Load(
    const std::string& model_path, TokenizerFamily family) {
  LMEYE_ASSIGN_OR_RETURN(std::string serialized, ReadTokenizerFile(model_path));
  auto tok = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer(family));
  tok->path_ = model_path;
  std::string error;
  if (serialized.empty() || !tok->spm_.LoadFromSerialized(serialized, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        model_path,
        ": not a SentencePiece model: ", serialized.empty() ? std::string("empty file") : error));
  }
  const int n = tok->spm_.piece_size();
  if (n <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_path, ": SentencePiece model has no pieces"));
  }

  // Whether the model adds a dummy-prefix space (the normalizer spec is not reachable through
  // the library's public header): then decoding drops it again at the start of a text.
  std::vector<int> probe;
  bool dummy_prefix = false;
  if (tok->spm_.Encode("a", &probe, &error) && !probe.empty()) {
    dummy_prefix = absl::StartsWith(tok->spm_.IdToPiece(probe[0]), kSpaceSymbol);
  }

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
          absl::StrCat(model_path, ": byte piece ", id, " is not of the form <0xNN>: ", piece));
    }
    bytes = absl::StrReplaceAll(piece, {{kSpaceSymbol, " "}});
    tok->strip_at_start_[id] = dummy_prefix && absl::StartsWith(piece, kSpaceSymbol);
  }
  return tok;
}

absl::StatusOr<std::vector<int>> SentencePieceTokenizer::Encode(absl::string_view text) const {
  std::vector<int> ids;
  std::string error;
  if (!spm_.Encode(std::string(text), &ids, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("SentencePiece encode failed: ", error));
  }
  return ids;
}

absl::StatusOr<std::string> SentencePieceTokenizer::ReferenceDecode(
    const std::vector<int>& ids) const {
  std::string text, error;
  for (int id : ids) {
    if (id < 0 || id >= BaseVocabSize()) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", id, " out of range"));
    }
  }
  if (!spm_.Decode(ids, &text, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("SentencePiece decode failed: ", error));
  }
  return text;
}

absl::string_view SentencePieceTokenizer::BaseTokenBytes(int id, bool at_text_start) const {
  absl::string_view bytes = token_bytes_[id];
  if (at_text_start && strip_at_start_[id]) bytes.remove_prefix(1);
  return bytes;
}

std::optional<int> SentencePieceTokenizer::BasePieceToId(absl::string_view piece) const {
  const std::string p(piece);
  const int id = spm_.PieceToId(p);
  // PieceToId answers unk_id for anything absent: only trust it when it round-trips.
  if (id < 0 || id >= BaseVocabSize() || spm_.IdToPiece(id) != p) return std::nullopt;
  return id;
}

}  // namespace lmeye
