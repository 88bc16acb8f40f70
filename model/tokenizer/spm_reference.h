// libsentencepiece itself, behind a narrow interface: the reference that tests cross-check our
// own SentencePiece (spm_model.h) against. Target lmeye_tokenizer_spm_reference.
//
// Test-only, and never in a binary that links libtorch: Debian's libsentencepiece.so.0 exports a
// bundled protobuf-lite that crashes, during static initialisation, any process that also loads
// libprotobuf.so (which libtorch_cpu.so does).
//
// No abseil in the interface: sentencepiece_processor.h (0.1.97) declares
// `namespace absl { using std::string_view; }`, which collides with the real absl::string_view of
// Debian's abseil in any translation unit that includes both. Only spm_reference.cc includes
// the SentencePiece header.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace lmeye {

class SpmReference {
 public:
  SpmReference();
  ~SpmReference();
  SpmReference(const SpmReference&) = delete;
  SpmReference& operator=(const SpmReference&) = delete;

  // Loads a serialized ModelProto. On failure returns false and sets *error.
  bool LoadFromSerialized(const std::string& serialized, std::string* error);

  // Encodes plain text (SentencePiece never emits control symbols such as <s> from text).
  // Thread-safe after loading. On failure returns false and sets *error.
  bool Encode(const std::string& text, std::vector<int>* ids, std::string* error) const;
  bool Decode(const std::vector<int>& ids, std::string* text, std::string* error) const;
  // Encode() as pieces ("▁Hello", "<0x0A>"); merged runs of unknown characters are one piece.
  bool EncodeAsPieces(const std::string& text, std::vector<std::string>* pieces,
                      std::string* error) const;

  int piece_size() const;
  const std::string& IdToPiece(int id) const;
  int PieceToId(const std::string& piece) const;  // unk_id() when absent
  bool IsControl(int id) const;
  bool IsUnknown(int id) const;
  bool IsByte(int id) const;
  bool IsUnused(int id) const;
  int bos_id() const;
  int eos_id() const;
  int unk_id() const;
  int pad_id() const;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace lmeye
