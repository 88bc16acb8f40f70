// GPT-2's byte-level alphabet: every byte 0..255 is written as one printable Unicode character
// (`bytes_to_unicode` in OpenAI's encoder.py, Hugging Face's ByteLevel), so that vocabularies
// and merge files are text. Printable Latin-1 bytes map to themselves; the others (controls,
// space, 0x7F-0xA0, 0xAD) map to U+0100 onwards in byte order, e.g. ' ' -> 'Ġ' (U+0120).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace lmeye {

// The code point that stands for `byte`.
uint32_t ByteToUnicode(uint8_t byte);

// The byte a code point stands for, or nullopt when it is not in the alphabet.
std::optional<uint8_t> UnicodeToByte(uint32_t cp);

// Raw bytes -> the alphabet's UTF-8 text (what vocab.json keys are written in).
std::string ByteLevelEncode(absl::string_view bytes);

// The alphabet's UTF-8 text -> raw bytes. Characters outside the alphabet (added tokens such as
// "<|endoftext|>" are inside it; others may not be) are copied as their own UTF-8 bytes, the way
// Hugging Face's decoder passes them through.
std::string ByteLevelDecode(absl::string_view text);

}  // namespace lmeye
