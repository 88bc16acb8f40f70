// WebP RIFF walk (see image_formats.h).
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/vision/image_bytes.h"
#include "model/vision/image_exif.h"
#include "model/vision/image_formats.h"

namespace lmeye::image_internal {
namespace {

constexpr uint32_t kVp8xAnimation = 0x02;
constexpr uint32_t kVp8xAlpha = 0x10;

absl::Status WebpError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid WebP: ", what));
}

// Lossy bitstream: 3-byte frame tag (bit 0 clear = key frame), start code 9d 01 2a, then 14-bit
// width and height (the top 2 bits are upscaling hints).
absl::Status ReadVp8(absl::string_view data, uint32_t* width, uint32_t* height) {
  if (data.size() < 10) return WebpError("VP8 chunk too short");
  if (U8At(data, 0) & 1) return WebpError("VP8 bitstream does not start with a key frame");
  if (data.substr(3, 3) != absl::string_view("\x9d\x01\x2a", 3)) {
    return WebpError("bad VP8 start code");
  }
  ReadU16LE(data, 6, width);
  ReadU16LE(data, 8, height);
  *width &= 0x3FFF;
  *height &= 0x3FFF;
  return absl::OkStatus();
}

// Lossless bitstream: signature 0x2f, then width-1 (14 bits), height-1 (14 bits), alpha hint,
// 3-bit version (must be 0), little-endian bit order.
absl::Status ReadVp8l(absl::string_view data, uint32_t* width, uint32_t* height, bool* alpha) {
  if (data.size() < 5) return WebpError("VP8L chunk too short");
  if (U8At(data, 0) != 0x2F) return WebpError("bad VP8L signature");
  uint32_t bits = 0;
  ReadU32LE(data, 1, &bits);
  *width = (bits & 0x3FFF) + 1;
  *height = ((bits >> 14) & 0x3FFF) + 1;
  *alpha = (bits >> 28) & 1;
  if ((bits >> 29) != 0) return WebpError("unknown VP8L version");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageHeader> ProbeWebp(absl::string_view bytes, const ImageLimits& limits) {
  uint32_t riff_size = 0;
  if (!ReadU32LE(bytes, 4, &riff_size) || SafeSubstr(bytes, 8, 4) != "WEBP") {
    return WebpError("bad RIFF header");
  }
  if (!Has(bytes, 8, riff_size)) {
    return WebpError(absl::StrCat("truncated: RIFF declares ", riff_size + 8ull,
                                  " bytes, the file has ", bytes.size()));
  }
  const absl::string_view riff = bytes.substr(0, size_t{riff_size} + 8);
  ImageHeader h;
  h.format = ImageFormat::kWebp;
  h.channels = 3;
  bool extended = false, seen_bitstream = false;
  uint32_t canvas_w = 0, canvas_h = 0;
  size_t pos = 12;
  for (int index = 0; pos < riff.size(); ++index) {
    uint32_t size = 0;
    if (!Has(riff, pos, 8) || !ReadU32LE(riff, pos + 4, &size)) {
      return WebpError("truncated: incomplete chunk header");
    }
    const absl::string_view fourcc = riff.substr(pos, 4);
    if (!Has(riff, pos + 8, size)) {
      return WebpError(absl::StrCat("truncated: chunk '", fourcc, "' claims ", size,
                                    " bytes, only ", riff.size() - pos - 8, " remain"));
    }
    const absl::string_view data = riff.substr(pos + 8, size);
    pos += 8 + size_t{size} + (size & 1);  // chunks are padded to even sizes
    if (index == 0) {
      if (fourcc == "VP8X") {
        if (size < 10) return WebpError("VP8X chunk too short");
        extended = true;
        const uint32_t flags = U8At(data, 0);
        h.is_animated = flags & kVp8xAnimation;
        h.has_alpha = flags & kVp8xAlpha;
        ReadU24LE(data, 4, &canvas_w);
        ReadU24LE(data, 7, &canvas_h);
        ++canvas_w;
        ++canvas_h;
        LMEYE_RETURN_IF_ERROR(CheckImageDimensions(canvas_w, canvas_h, limits));
        h.width = static_cast<int>(canvas_w);
        h.height = static_cast<int>(canvas_h);
        continue;
      }
      if (fourcc != "VP8 " && fourcc != "VP8L") {
        return WebpError(absl::StrCat("first chunk is '", fourcc, "', not VP8, VP8L or VP8X"));
      }
    }
    if (fourcc == "ANIM" || fourcc == "ANMF") {
      h.is_animated = true;
    } else if (fourcc == "EXIF") {
      h.orientation = ParseExifOrientation(data);
    } else if ((fourcc == "VP8 " || fourcc == "VP8L") && !seen_bitstream) {
      seen_bitstream = true;
      uint32_t w = 0, ht = 0;
      if (fourcc == "VP8 ") {
        LMEYE_RETURN_IF_ERROR(ReadVp8(data, &w, &ht));
      } else {
        bool alpha = false;
        LMEYE_RETURN_IF_ERROR(ReadVp8l(data, &w, &ht, &alpha));
        h.has_alpha = h.has_alpha || alpha;
      }
      if (w == 0 || ht == 0) return WebpError(absl::StrCat("zero size ", w, "x", ht));
      if (extended && (w != canvas_w || ht != canvas_h)) {
        return WebpError(absl::StrCat("bitstream is ", w, "x", ht, " but the VP8X canvas is ",
                                      canvas_w, "x", canvas_h));
      }
      LMEYE_RETURN_IF_ERROR(CheckImageDimensions(w, ht, limits));
      h.width = static_cast<int>(w);
      h.height = static_cast<int>(ht);
    }
  }
  if (!seen_bitstream && !h.is_animated) return WebpError("no VP8/VP8L image data");
  if (h.has_alpha) h.channels = 4;
  return h;
}

}  // namespace lmeye::image_internal
