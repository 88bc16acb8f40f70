// BMP header and pixel-array checks (see image_formats.h).
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/vision/image_bytes.h"
#include "model/vision/image_formats.h"

namespace lmeye::image_internal {
namespace {

constexpr size_t kFileHeaderSize = 14;
enum Compression : uint32_t { kRgb = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3 };

absl::Status BmpError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid BMP: ", what));
}

// Follows an RLE4/RLE8 stream from `pos` until end-of-bitmap or until every row has been
// addressed; an error if it runs off the end of the file first. OpenCV's RLE reader throws from
// deep inside its stream class (and logs to stderr) when that happens.
absl::Status WalkRle(absl::string_view b, size_t pos, bool rle4, int64_t height) {
  int64_t y = 0;
  while (y < height) {
    if (!Has(b, pos, 2)) return BmpError("truncated: RLE data ends before end-of-bitmap");
    const uint32_t count = U8At(b, pos), code = U8At(b, pos + 1);
    pos += 2;
    if (count > 0) continue;  // encoded run: `count` pixels of one value
    if (code == 0) {          // end of line
      ++y;
    } else if (code == 1) {  // end of bitmap
      return absl::OkStatus();
    } else if (code == 2) {  // delta: dx, dy
      if (!Has(b, pos, 2)) return BmpError("truncated: RLE delta cut off");
      y += U8At(b, pos + 1);
      pos += 2;
    } else {  // absolute run of `code` literal pixels, padded to a 16-bit boundary
      size_t n = rle4 ? (code + 1) / 2 : code;
      n += n & 1;
      if (!Has(b, pos, n)) return BmpError("truncated: RLE literal run cut off");
      pos += n;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImageHeader> ProbeBmp(absl::string_view bytes, const ImageLimits& limits) {
  uint32_t pixel_offset = 0, dib_size = 0;
  if (!ReadU32LE(bytes, 10, &pixel_offset) || !ReadU32LE(bytes, 14, &dib_size)) {
    return BmpError("truncated file header");
  }
  if (dib_size != 12 && dib_size != 40 && dib_size != 52 && dib_size != 56 && dib_size != 108 &&
      dib_size != 124) {
    return BmpError(absl::StrCat("unsupported DIB header size ", dib_size));
  }
  if (!Has(bytes, kFileHeaderSize, dib_size)) return BmpError("truncated DIB header");
  const absl::string_view dib = bytes.substr(kFileHeaderSize, dib_size);
  int64_t width = 0, height = 0;
  uint32_t planes = 0, bpp = 0, compression = kRgb, n_colors = 0;
  if (dib_size == 12) {  // BITMAPCOREHEADER: unsigned 16-bit sizes
    uint32_t w = 0, ht = 0;
    ReadU16LE(dib, 4, &w);
    ReadU16LE(dib, 6, &ht);
    width = w;
    height = ht;
    ReadU16LE(dib, 8, &planes);
    ReadU16LE(dib, 10, &bpp);
  } else {
    uint32_t w = 0, ht = 0;
    ReadU32LE(dib, 4, &w);
    ReadU32LE(dib, 8, &ht);
    width = static_cast<int32_t>(w);
    height = static_cast<int32_t>(ht);  // negative: rows stored top-down
    ReadU16LE(dib, 12, &planes);
    ReadU16LE(dib, 14, &bpp);
    ReadU32LE(dib, 16, &compression);
    ReadU32LE(dib, 32, &n_colors);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  if (width <= 0 || height <= 0) return BmpError(absl::StrCat("size ", width, "x", height));
  if (planes != 1) return BmpError(absl::StrCat(planes, " colour planes"));
  const bool ok_depth = (compression == kRgb && (bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 ||
                                                 bpp == 24 || bpp == 32)) ||
                        (compression == kRle8 && bpp == 8) || (compression == kRle4 && bpp == 4) ||
                        (compression == kBitfields && (bpp == 16 || bpp == 32));
  if (!ok_depth) {
    return BmpError(absl::StrCat("unsupported compression ", compression, " with ", bpp,
                                 " bits per pixel (JPEG/PNG-in-BMP are not supported)"));
  }
  if (top_down && (compression == kRle4 || compression == kRle8)) {
    return BmpError("top-down RLE bitmap");
  }
  LMEYE_RETURN_IF_ERROR(CheckImageDimensions(width, height, limits));

  ImageHeader h;
  h.format = ImageFormat::kBmp;
  h.width = static_cast<int>(width);
  h.height = static_cast<int>(height);
  h.is_palette = bpp <= 8;
  h.channels = h.is_palette ? 1 : 3;
  h.bit_depth = h.is_palette ? static_cast<int>(bpp) : 8;

  if (h.is_palette) {
    if (n_colors == 0 || n_colors > (1u << bpp)) n_colors = 1u << bpp;
    const size_t entry = dib_size == 12 ? 3 : 4;
    if (!Has(bytes, kFileHeaderSize + dib_size, n_colors * entry)) {
      return BmpError("truncated: palette extends past the end of the file");
    }
  }
  if (pixel_offset < kFileHeaderSize + dib_size || pixel_offset > bytes.size()) {
    return BmpError(absl::StrCat("pixel data offset ", pixel_offset, " outside the file"));
  }
  if (compression == kRle4 || compression == kRle8) {
    LMEYE_RETURN_IF_ERROR(WalkRle(bytes, pixel_offset, compression == kRle4, height));
  } else {
    const int64_t stride = (width * bpp + 31) / 32 * 4;
    if (!Has(bytes, pixel_offset, static_cast<size_t>(stride * height))) {
      return BmpError(absl::StrCat("truncated: ", width, "x", height, " at ", bpp, " bpp needs ",
                                   stride * height, " bytes of pixels, the file has ",
                                   bytes.size() - pixel_offset));
    }
  }
  return h;
}

}  // namespace lmeye::image_internal
