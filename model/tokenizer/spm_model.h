// Our own SentencePiece: loads a tokenizer.model / spiece.model and encodes/decodes exactly as
// libsentencepiece 0.1.97 does, for BPE models (LLaMA, Vicuna, Alpaca) and UNIGRAM models (T5,
// Flan-T5), with the identity normalizer or a precompiled character map (nmt_nfkc, nfkc, ...).
//
// Why not libsentencepiece: Debian's libsentencepiece.so.0 exports a bundled protobuf-lite;
// libtorch_cpu.so depends on libprotobuf.so.32. A process that loads both segfaults in static
// initialisation (libprotobuf's InternalAddGeneratedFile runs into libsentencepiece's
// MergeFromImpl), before main. The library survives only as a test cross-check
// (spm_reference.h, target lmeye_tokenizer_spm_reference), which no torch binary links.
//
// Supported: model_type BPE and UNIGRAM; any precompiled_charsmap (spm_charsmap.h; empty =
// identity normalization); the add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces
// and treat_whitespace_as_suffix flags; USER_DEFINED, UNUSED, CONTROL, BYTE pieces;
// byte_fallback. Unimplemented (a clear error when loading): WORD and CHAR models, and a
// denormalizer with a character map (T5 has none). Sampling, n-best and offsets are not
// offered.
//
// Normalization: spm_normalizer.h. BPE encoding (SegmentBpe): the normalized text is split into
// characters (user-defined symbols first, longest match, and frozen); then, repeatedly, the
// adjacent pair whose concatenation is a NORMAL/USER_DEFINED/UNUSED piece with the highest score
// is merged, the leftmost on ties, using a heap and a linked list (O(n log n)). A merged UNUSED
// piece is split back into the pair it came from. Unigram encoding: unigram_model.h (Viterbi).
// For both, symbols outside the vocabulary become <0xNN> byte pieces, one per UTF-8 byte, with
// byte_fallback; otherwise <unk>, consecutive ones collapsed into one.
//
// Threading: immutable after FromSerialized(); every const method may be called from any
// thread.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/tokenizer/spm_charsmap.h"
#include "model/tokenizer/spm_model_proto.h"
#include "model/tokenizer/spm_normalizer.h"
#include "model/tokenizer/unigram_model.h"

namespace lmeye {

class SpmModel {
 public:
  // Parses and validates a serialized ModelProto. InvalidArgument when the bytes are not a
  // well-formed model or the model is inconsistent (the checks libsentencepiece makes: empty
  // or duplicate pieces, no <unk>, byte pieces without byte_fallback or not all 256 of them, a
  // failing self-test, a broken precompiled_charsmap (spm_charsmap.h), a unigram model with
  // nothing to segment with; beyond the library, a NaN score, whose merge order would be
  // undefined); Unimplemented for what is not supported (see above).
  static absl::StatusOr<SpmModel> FromSerialized(absl::string_view serialized);
  // The same from a parsed model (a Hugging Face tokenizer.json converted to one).
  static absl::StatusOr<SpmModel> FromProto(SpmModelProto proto);

  // An empty model (no pieces) that Encode() refuses; FromSerialized() makes usable ones.
  SpmModel() = default;
  SpmModel(SpmModel&&) = default;
  SpmModel& operator=(SpmModel&&) = default;

  // The ids of `text` (plain text: SentencePiece never produces control pieces such as <s>).
  // FailedPrecondition on an empty model; InvalidArgument for text over 2 GiB once normalized;
  // Internal if the model makes segmentation inconsistent (a control piece produced by merges),
  // as the library reports it.
  absl::StatusOr<std::vector<int>> Encode(absl::string_view text) const;

  // SentencePiece's DecodeIds: control pieces vanish, <unk> is unk_surface (" ⁇ "), "▁" is a
  // space, runs of byte pieces are UTF-8 with one U+FFFD per invalid byte, and the first
  // piece's leading "▁" is dropped when add_dummy_prefix or remove_extra_whitespaces.
  // OutOfRange if an id is not in [0, piece_size()).
  absl::StatusOr<std::string> Decode(absl::Span<const int> ids) const;

  int piece_size() const { return static_cast<int>(pieces_.size()); }
  // "" when `id` is out of range.
  const std::string& IdToPiece(int id) const;
  // The UNKNOWN piece's id when absent (as the library).
  int PieceToId(absl::string_view piece) const;
  float GetScore(int id) const;

  // False when `id` is out of range.
  bool IsNormal(int id) const { return TypeIs(id, SpmPieceType::kNormal); }
  bool IsUnknown(int id) const { return TypeIs(id, SpmPieceType::kUnknown); }
  bool IsControl(int id) const { return TypeIs(id, SpmPieceType::kControl); }
  bool IsUserDefined(int id) const { return TypeIs(id, SpmPieceType::kUserDefined); }
  bool IsUnused(int id) const { return TypeIs(id, SpmPieceType::kUnused); }
  bool IsByte(int id) const { return TypeIs(id, SpmPieceType::kByte); }

  // The special pieces, found by name (TrainerSpec's unk_piece/bos_piece/..., "<unk>", "<s>",
  // "</s>", "<pad>" by default) as the library does: -1 when absent or not of the right type
  // (UNKNOWN for unk, CONTROL for the others).
  int unk_id() const { return unk_id_; }
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }

  const SpmNormalizerOptions& normalizer_options() const { return normalizer_options_; }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  using Segment = SpmSegment;

  absl::Status Init(SpmModelProto proto);
  // BPE over normalized text (bpe_model.cc's Encode).
  std::vector<Segment> SegmentBpe(absl::string_view normalized) const;
  // Encode(), also returning the pieces when `pieces` is not null (for the self-test).
  absl::Status EncodeInternal(absl::string_view text, std::vector<int>* ids,
                              std::vector<std::string>* pieces) const;
  absl::Status RunSelfTest(const std::vector<SpmSelfTestSample>& samples) const;
  // The library's VerifyOutputsEquivalent: unigram models compare the scores of the two piece
  // sequences (within 1e-7), BPE models the strings.
  bool SelfTestPasses(const std::string& expected, const std::string& got) const;
  bool TypeIs(int id, SpmPieceType type) const {
    return id >= 0 && id < piece_size() && types_[id] == type;
  }
  int SpecialId(absl::string_view name, absl::string_view fallback, SpmPieceType type) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<SpmPieceType> types_;
  // The library's two maps: merges only ever produce `mergeable_` pieces (NORMAL,
  // USER_DEFINED, UNUSED); lookups try `reserved_` (CONTROL, UNKNOWN, BYTE) first.
  absl::flat_hash_map<std::string, int> mergeable_;
  absl::flat_hash_map<std::string, int> reserved_;
  bool has_unused_ = false;  // whether merges may need splitting back
  SpmSymbolMatcher user_symbols_;
  SpmNormalizerOptions normalizer_options_;
  std::optional<SpmCharsMap> charsmap_;  // none: the identity normalizer
  std::optional<SpmUnigram> unigram_;    // set for UNIGRAM models; BPE otherwise
  bool byte_fallback_ = false;
  std::array<int, 256> byte_ids_{};  // byte -> id of its <0xNN> piece, with byte_fallback
  std::string unk_surface_;
  int unknown_piece_id_ = -1;  // the UNKNOWN piece: what PieceToId answers for absent pieces
  int unk_id_ = -1;
  int bos_id_ = -1;
  int eos_id_ = -1;
  int pad_id_ = -1;
};

}  // namespace lmeye
