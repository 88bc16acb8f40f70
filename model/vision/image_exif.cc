#include "model/vision/image_exif.h"

#include <cstdint>

#include <opencv2/core.hpp>

#include "model/vision/image_bytes.h"

namespace lmeye {
namespace {

using image_internal::Has;
using image_internal::ReadU16BE;
using image_internal::ReadU16LE;
using image_internal::ReadU32BE;
using image_internal::ReadU32LE;

constexpr uint32_t kOrientationTag = 0x0112;
constexpr uint32_t kTiffShort = 3;

}  // namespace

int ParseExifOrientation(absl::string_view exif) {
  if (exif.substr(0, 6) == absl::string_view("Exif\0\0", 6)) exif.remove_prefix(6);
  if (!Has(exif, 0, 8)) return 1;
  bool little;
  if (exif.substr(0, 4) == absl::string_view("II*\0", 4)) {
    little = true;
  } else if (exif.substr(0, 4) == absl::string_view("MM\0*", 4)) {
    little = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t pos, uint32_t* v) {
    return little ? ReadU16LE(exif, pos, v) : ReadU16BE(exif, pos, v);
  };
  auto u32 = [&](size_t pos, uint32_t* v) {
    return little ? ReadU32LE(exif, pos, v) : ReadU32BE(exif, pos, v);
  };
  uint32_t ifd0 = 0, n_entries = 0;
  if (!u32(4, &ifd0) || !u16(ifd0, &n_entries)) return 1;
  for (uint32_t i = 0; i < n_entries; ++i) {
    // Each IFD entry: tag u16, type u16, count u32, value/offset u32 (a single SHORT is inline).
    const size_t entry = size_t{ifd0} + 2 + size_t{i} * 12;
    uint32_t tag = 0, type = 0, count = 0, value = 0;
    if (!u16(entry, &tag) || !u16(entry + 2, &type) || !u32(entry + 4, &count) ||
        !u16(entry + 8, &value)) {
      return 1;
    }
    if (tag != kOrientationTag) continue;
    if (type != kTiffShort || count != 1 || value < 1 || value > 8) return 1;
    return static_cast<int>(value);
  }
  return 1;
}

cv::Mat ApplyExifOrientation(const cv::Mat& image, int orientation) {
  cv::Mat out;
  switch (orientation) {
    case 2:
      cv::flip(image, out, 1);
      return out;
    case 3:
      cv::rotate(image, out, cv::ROTATE_180);
      return out;
    case 4:
      cv::flip(image, out, 0);
      return out;
    case 5:
      cv::transpose(image, out);
      return out;
    case 6:
      cv::rotate(image, out, cv::ROTATE_90_CLOCKWISE);
      return out;
    case 7:
      // Transverse: mirror across the anti-diagonal = transpose, then rotate 180.
      cv::transpose(image, out);
      cv::rotate(out, out, cv::ROTATE_180);
      return out;
    case 8:
      cv::rotate(image, out, cv::ROTATE_90_COUNTERCLOCKWISE);
      return out;
    default:
      return image;
  }
}

}  // namespace lmeye
