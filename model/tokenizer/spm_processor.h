// A narrow wrapper over libsentencepiece, with no abseil in its interface.
//
// Why: sentencepiece_processor.h (0.1.97) declares `namespace absl { using std::string_view; }`,
// which collides with the real absl::string_view of Debian's abseil in any translation unit that
// includes both. Only spm_processor.cc includes the SentencePiece header.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}  // namespace sentencepiece

namespace lmeye {

class SpmProcessor {
 public:
  SpmProcessor();
  ~SpmProcessor();
  SpmProcessor(const SpmProcessor&) = delete;
  SpmProcessor& operator=(const SpmProcessor&) = delete;

  // Loads a serialized ModelProto. On failure returns false and sets *error.
  bool LoadFromSerialized(const std::string& serialized, std::string* error);

  // Encodes plain text (SentencePiece never emits control symbols such as <s> from text).
  // Thread-safe after loading. On failure returns false and sets *error.
  bool Encode(const std::string& text, std::vector<int>* ids, std::string* error) const;
  bool Decode(const std::vector<int>& ids, std::string* text, std::string* error) const;

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
