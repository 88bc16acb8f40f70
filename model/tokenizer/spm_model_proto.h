// The parts of SentencePiece's ModelProto (the tokenizer.model file) that encoding and decoding
// read, parsed from the protobuf wire format by hand.
//
// Why by hand: linking libsentencepiece (or libprotobuf) next to libtorch crashes the process
// during static initialisation (both register protobuf descriptors; see spm_model.h). The format
// is small and stable: sentencepiece_model.proto, proto2.
//
// Parsing follows protobuf's rules where a model file can exercise them: unknown fields are
// skipped, a scalar that appears twice keeps the last value, a sub-message that appears twice is
// merged, absent fields take the .proto defaults. Anything malformed (truncated varints or
// lengths, lengths past the end, wire types that do not match a known field, groups) is an
// InvalidArgument naming the byte offset, never a crash.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

// ModelProto.SentencePiece.Type.
enum class SpmPieceType : int {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// TrainerSpec.ModelType.
enum class SpmModelType : int {
  kUnigram = 1,
  kBpe = 2,
  kWord = 3,
  kChar = 4,
};

struct SpmPieceProto {
  std::string piece;   // field 1
  float score = 0.0f;  // field 2
  // field 3. A value outside the enum keeps kNormal, as protobuf does for a proto2 enum.
  SpmPieceType type = SpmPieceType::kNormal;
};

struct SpmTrainerSpecProto {
  int model_type = static_cast<int>(SpmModelType::kUnigram);  // field 3; raw, may be unknown
  bool treat_whitespace_as_suffix = false;                    // field 24
  bool byte_fallback = false;                                 // field 35
  // Fields 40-43. Informational: the library (and SpmModel) find bos/eos/unk/pad by piece name.
  int unk_id = 0;
  int bos_id = 1;
  int eos_id = 2;
  int pad_id = -1;
  std::string unk_surface = " \xE2\x81\x87 ";  // field 44: what Decode prints for <unk>
  // Fields 45-48, as stored: "" when absent (SentencePiece substitutes "<unk>", "<s>", ... then).
  std::string unk_piece;
  std::string bos_piece;
  std::string eos_piece;
  std::string pad_piece;
};

struct SpmNormalizerSpecProto {
  std::string name;                      // field 1; informational
  std::string precompiled_charsmap;      // field 2; empty = identity normalization
  bool add_dummy_prefix = true;          // field 3
  bool remove_extra_whitespaces = true;  // field 4
  bool escape_whitespaces = true;        // field 5
};

struct SpmSelfTestSample {
  std::string input;     // field 1
  std::string expected;  // field 2: the pieces joined by " "
};

struct SpmModelProto {
  std::vector<SpmPieceProto> pieces;         // field 1
  SpmTrainerSpecProto trainer_spec;          // field 2
  SpmNormalizerSpecProto normalizer_spec;    // field 3
  std::vector<SpmSelfTestSample> self_test;  // field 4 (SelfTestData.samples)
  bool has_denormalizer_spec = false;
  SpmNormalizerSpecProto denormalizer_spec;  // field 5
};

// Parses a serialized ModelProto. InvalidArgument on malformed input (see above). Semantic
// checks (empty pieces, duplicates, missing <unk>) are SpmModel's.
absl::StatusOr<SpmModelProto> ParseSpmModelProto(absl::string_view serialized);

}  // namespace lmeye
