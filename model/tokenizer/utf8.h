// UTF-8 scanning for tokenizers: code point iteration over untrusted bytes, and the
// replacement of invalid sequences that decoding and streaming share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace lmeye {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
inline constexpr uint32_t kInvalidCodepoint = 0xFFFFFFFF;

// What the bytes at the front of a buffer are.
struct Utf8Sequence {
  enum Kind {
    kComplete,    // a valid character of `length` bytes
    kIncomplete,  // the buffer ends after `length` bytes that can still become a character
    kInvalid,     // `length` bytes (the maximal subpart, >= 1) that can never be a character
  };
  Kind kind;
  size_t length;
  uint32_t codepoint;  // valid for kComplete only
};

// Classifies the bytes at text[0..], per Unicode Table 3-7 (no overlongs, no surrogates,
// nothing above U+10FFFF). `text` must not be empty.
Utf8Sequence ScanUtf8(absl::string_view text);

// Decodes the character at text[pos]; an invalid or truncated sequence yields
// kInvalidCodepoint with length 1, so callers can pass such bytes through unchanged.
uint32_t DecodeUtf8At(absl::string_view text, size_t pos, size_t* length);

void AppendUtf8(uint32_t cp, std::string* out);

// How invalid bytes become U+FFFD. Implementations disagree and decode must match its reference:
enum class Utf8Replacement {
  kMaximalSubpart,  // one U+FFFD per maximal subpart: Python's errors="replace", Rust's
                    // from_utf8_lossy (GPT-2's encoder.py, Hugging Face ByteLevel decoder)
  kPerByte,         // one U+FFFD per invalid byte: SentencePiece's byte-piece decoding
};

// Appends to `out` the text of `bytes` with invalid sequences replaced per `policy`, and returns
// how many bytes it consumed. When `final` is false a trailing kIncomplete sequence (at most 3
// bytes) is left unconsumed, because the next token may complete it; when `final` is true it
// is replaced too.
size_t AppendValidUtf8(absl::string_view bytes, Utf8Replacement policy, bool final,
                       std::string* out);

}  // namespace lmeye
