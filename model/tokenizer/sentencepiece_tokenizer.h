// SentencePiece tokenizer (LLaMA's tokenizer.model, T5's spiece.model) through our own
// SentencePiece (spm_model.h; not libsentencepiece, which crashes processes that also load
// libtorch).
//
// Encoding is SentencePiece's, BPE (LLaMA) or unigram (T5, with the nmt_nfkc normalizer):
// dummy-prefix space, byte fallback for characters outside the vocabulary (<0xNN> pieces) where
// the model has it, else <unk>. Decoding is done here from a per-id byte table so that streaming
// (IncrementalDecoder) and Decode() agree with SentencePiece's DecodeIds: "▁" is a space, byte
// pieces are raw bytes (invalid ones become one U+FFFD per byte), <unk> is " ⁇ ", control pieces
// are skipped, and the first non-control piece of a text loses its leading "▁".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer/spm_model.h"
#include "model/tokenizer/tokenizer.h"

namespace lmeye {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Loads `model_path` (a serialized SentencePiece ModelProto). NotFound if it is missing,
  // InvalidArgument naming the file if it is not a valid SentencePiece model, Unimplemented
  // naming the file if it needs what SpmModel does not support (WORD and CHAR models, a
  // denormalizer).
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> Load(
      const std::string& model_path, TokenizerFamily family = TokenizerFamily::kLlama);
  // From a loaded model; `source` names it in errors (a file path).
  static absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> FromModel(
      SpmModel model, const std::string& source, TokenizerFamily family);

  absl::StatusOr<std::vector<int>> Encode(absl::string_view text) const override;
  using Tokenizer::Encode;

  // SentencePiece's piece-level DecodeIds (SpmModel::Decode), for cross-checking Decode().
  absl::StatusOr<std::string> ReferenceDecode(const std::vector<int>& ids) const;

  Utf8Replacement utf8_replacement() const override { return Utf8Replacement::kPerByte; }

  // The ids the model file declares (-1 where absent).
  int model_bos_id() const { return spm_.bos_id(); }
  int model_eos_id() const { return spm_.eos_id(); }
  int model_unk_id() const { return spm_.unk_id(); }
  int model_pad_id() const { return spm_.pad_id(); }

 protected:
  int BaseVocabSize() const override { return static_cast<int>(token_bytes_.size()); }
  absl::string_view BaseTokenBytes(int id, bool at_text_start) const override;
  bool IsBaseSpecial(int id) const override { return spm_.IsControl(id); }
  std::string BaseIdToPiece(int id) const override { return spm_.IdToPiece(id); }
  std::optional<int> BasePieceToId(absl::string_view piece) const override;

 private:
  explicit SentencePieceTokenizer(TokenizerFamily family) : Tokenizer(family) {}

  SpmModel spm_;
  std::string path_;
  std::vector<std::string> token_bytes_;  // id -> decoded bytes mid-text
  // id -> whether at the start of a text its first byte (the dummy-prefix space) is dropped.
  std::vector<bool> strip_at_start_;
};

}  // namespace lmeye
