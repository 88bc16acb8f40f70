// Bounds-checked integer reads from untrusted image bytes (internal to model/vision/image_*).
//
// Every container parser goes through these so that no offset arithmetic on hostile input can
// read outside the buffer: a read past the end returns false instead of a value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace lmeye::image_internal {

inline bool Has(absl::string_view b, size_t pos, size_t n) {
  return pos <= b.size() && n <= b.size() - pos;
}

// absl::string_view::substr throws std::out_of_range when pos > size(); this returns "" instead.
inline absl::string_view SafeSubstr(absl::string_view b, size_t pos, size_t n) {
  return pos > b.size() ? absl::string_view() : b.substr(pos, n);
}

inline uint8_t U8At(absl::string_view b, size_t pos) { return static_cast<uint8_t>(b[pos]); }

inline bool ReadU16BE(absl::string_view b, size_t pos, uint32_t* v) {
  if (!Has(b, pos, 2)) return false;
  *v = (uint32_t{U8At(b, pos)} << 8) | U8At(b, pos + 1);
  return true;
}

inline bool ReadU32BE(absl::string_view b, size_t pos, uint32_t* v) {
  if (!Has(b, pos, 4)) return false;
  *v = (uint32_t{U8At(b, pos)} << 24) | (uint32_t{U8At(b, pos + 1)} << 16) |
       (uint32_t{U8At(b, pos + 2)} << 8) | U8At(b, pos + 3);
  return true;
}

inline bool ReadU16LE(absl::string_view b, size_t pos, uint32_t* v) {
  if (!Has(b, pos, 2)) return false;
  *v = uint32_t{U8At(b, pos)} | (uint32_t{U8At(b, pos + 1)} << 8);
  return true;
}

inline bool ReadU24LE(absl::string_view b, size_t pos, uint32_t* v) {
  if (!Has(b, pos, 3)) return false;
  *v = uint32_t{U8At(b, pos)} | (uint32_t{U8At(b, pos + 1)} << 8) |
       (uint32_t{U8At(b, pos + 2)} << 16);
  return true;
}

inline bool ReadU32LE(absl::string_view b, size_t pos, uint32_t* v) {
  if (!Has(b, pos, 4)) return false;
  *v = uint32_t{U8At(b, pos)} | (uint32_t{U8At(b, pos + 1)} << 8) |
       (uint32_t{U8At(b, pos + 2)} << 16) | (uint32_t{U8At(b, pos + 3)} << 24);
  return true;
}

}  // namespace lmeye::image_internal
