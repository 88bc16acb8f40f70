// Streaming detokenization: ids in one at a time, text out as soon as it is complete UTF-8.
//
// A byte-level BPE token can end in the middle of a character ("🦙" is 3 GPT-2 tokens) and
// SentencePiece spells rare characters as <0xNN> byte pieces, so the text of a single token is
// not always valid UTF-8. Push() holds back an incomplete trailing character (at most 3 bytes)
// until a later token completes it; bytes that can never be valid become U+FFFD at once.
// SentencePiece drops the dummy-prefix space of the first piece of a text only, which
// per-token decoding would get wrong ("Hello world" would stream as "Helloworld").
//
// The concatenation of everything Push() and Flush() return equals Tokenizer::Decode() of all
// the ids (Decode is built on this class).
//
// Not thread-safe: one decoder per stream. The tokenizer must outlive it.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lmeye {

class Tokenizer;

class IncrementalDecoder {
 public:
  // `at_text_start`: the ids begin a text (SentencePiece's leading-space rule applies to the
  // first one). Pass false when streaming a continuation of an already decoded prompt, where the
  // first generated piece's space is real.
  explicit IncrementalDecoder(const Tokenizer* tokenizer, bool at_text_start = true);

  // Appends to `out` the text that `id` completes (often all of its bytes, sometimes nothing).
  // Error for an id outside the vocabulary; the stream's state is then unchanged.
  absl::Status Push(int id, std::string* out);
  absl::StatusOr<std::string> Push(int id);

  // End of stream: appends the held-back incomplete character as U+FFFD (per the tokenizer's
  // replacement rule) and empties the buffer.
  void Flush(std::string* out);
  std::string Flush();

  // Bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool at_text_start_;
  std::string pending_;
};

}  // namespace lmeye
