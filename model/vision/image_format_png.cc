// PNG container walk (see image_formats.h).
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/status_macros.h"
#include "model/vision/image_bytes.h"
#include "model/vision/image_exif.h"
#include "model/vision/image_formats.h"

namespace lmeye::image_internal {
namespace {

constexpr absl::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
// Deflate cannot expand by more than 1032:1 (a 258-byte match costs at least 2 bits), so IDAT
// data smaller than 1/1032 of the raw scanlines proves the header lies or the data was cut.
constexpr int64_t kMaxDeflateRatio = 1032;

absl::Status PngError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid PNG: ", what));
}

bool IsLetter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// Bit depths allowed per colour type by the PNG specification (table 11.1).
bool ValidDepth(uint32_t color_type, uint32_t depth) {
  switch (color_type) {
    case 0:
      return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
    case 3:
      return depth == 1 || depth == 2 || depth == 4 || depth == 8;
    case 2:
    case 4:
    case 6:
      return depth == 8 || depth == 16;
    default:
      return false;
  }
}

int ChannelsOf(uint32_t color_type) {
  switch (color_type) {
    case 2:
      return 3;
    case 4:
      return 2;
    case 6:
      return 4;
    default:
      return 1;  // gray, palette
  }
}

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

}  // namespace

uint32_t Crc32(absl::string_view data, uint32_t crc) {
  const auto& table = CrcTable();
  crc = ~crc;
  for (char ch : data) crc = table[(crc ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

absl::StatusOr<ImageHeader> ProbePng(absl::string_view bytes, const ImageLimits& limits) {
  if (bytes.substr(0, 8) != kPngSignature) return PngError("bad signature");
  ImageHeader h;
  h.format = ImageFormat::kPng;
  size_t pos = 8;
  bool seen_ihdr = false, seen_plte = false, seen_iend = false;
  uint32_t color_type = 0;
  int64_t idat_bytes = 0;
  std::string zlib_header;
  int n_chunks = 0;
  while (!seen_iend) {
    if (pos == bytes.size()) {
      return PngError(
          absl::StrCat("truncated: file ends after ", n_chunks, " chunks without IEND"));
    }
    uint32_t length = 0;
    if (!ReadU32BE(bytes, pos, &length) || !Has(bytes, pos + 4, 4)) {
      return PngError(absl::StrFormat("truncated: incomplete chunk header at offset %d", pos));
    }
    const absl::string_view type = bytes.substr(pos + 4, 4);
    for (char c : type) {
      if (!IsLetter(static_cast<uint8_t>(c))) {
        return PngError(absl::StrFormat("corrupt chunk type at offset %d", pos + 4));
      }
    }
    if (length > 0x7FFFFFFFu) {
      return PngError(absl::StrCat("chunk ", type, " length ", length, " exceeds 2^31-1"));
    }
    if (!Has(bytes, pos + 8, size_t{length} + 4)) {
      return PngError(absl::StrCat("truncated: chunk ", type, " claims ", length,
                                   " bytes but only ", bytes.size() - pos - 8,
                                   " remain (with its CRC)"));
    }
    const absl::string_view data = bytes.substr(pos + 8, length);
    uint32_t stored_crc = 0;
    ReadU32BE(bytes, pos + 8 + length, &stored_crc);
    const uint32_t crc = Crc32(data, Crc32(type));
    if (crc != stored_crc) {
      return PngError(
          absl::StrFormat("bad CRC in chunk %s at offset %d (stored %08x, computed %08x)",
                          std::string(type), pos, stored_crc, crc));
    }
    if (n_chunks == 0 && type != "IHDR") return PngError("first chunk is not IHDR");
    if (type == "IHDR") {
      if (seen_ihdr) return PngError("more than one IHDR");
      if (length != 13) return PngError(absl::StrCat("IHDR has length ", length, ", not 13"));
      seen_ihdr = true;
      uint32_t w = 0, ht = 0;
      ReadU32BE(data, 0, &w);
      ReadU32BE(data, 4, &ht);
      const uint32_t depth = U8At(data, 8);
      color_type = U8At(data, 9);
      if (w == 0 || ht == 0) {
        return PngError(absl::StrCat("zero size ", w, "x", ht, " in IHDR"));
      }
      if (w > 0x7FFFFFFFu || ht > 0x7FFFFFFFu) {
        return PngError(absl::StrCat("size ", w, "x", ht, " exceeds the PNG maximum 2^31-1"));
      }
      if (!ValidDepth(color_type, depth)) {
        return PngError(absl::StrCat("colour type ", color_type, " with bit depth ", depth));
      }
      if (U8At(data, 10) != 0 || U8At(data, 11) != 0 || U8At(data, 12) > 1) {
        return PngError("unknown compression, filter or interlace method in IHDR");
      }
      LMEYE_RETURN_IF_ERROR(CheckImageDimensions(w, ht, limits));
      h.width = static_cast<int>(w);
      h.height = static_cast<int>(ht);
      h.bit_depth = static_cast<int>(depth);
      h.channels = ChannelsOf(color_type);
      h.is_palette = color_type == 3;
      h.has_alpha = color_type == 4 || color_type == 6;
    } else if (type == "PLTE") {
      if (idat_bytes > 0) return PngError("PLTE after IDAT");
      if (length == 0 || length % 3 != 0 || length > 3 * 256) {
        return PngError(absl::StrCat("PLTE of ", length, " bytes"));
      }
      seen_plte = true;
    } else if (type == "tRNS") {
      h.has_alpha = true;
    } else if (type == "eXIf") {
      h.orientation = ParseExifOrientation(data);
    } else if (type == "IDAT") {
      // The zlib header may in principle straddle IDAT chunks: collect its two bytes.
      const absl::string_view head = data.substr(0, 2 - std::min<size_t>(zlib_header.size(), 2));
      zlib_header.append(head.data(), head.size());
      idat_bytes += length;
    } else if (type == "IEND") {
      seen_iend = true;
    } else if (!(static_cast<uint8_t>(type[0]) & 0x20)) {
      // Lowercase first letter = ancillary; an unknown critical chunk must not be skipped.
      return PngError(absl::StrCat("unknown critical chunk ", type));
    }
    pos += 12 + size_t{length};
    ++n_chunks;
  }
  if (color_type == 3 && !seen_plte) return PngError("palette image without PLTE");
  if (idat_bytes == 0) return PngError("no IDAT (no image data)");
  // RFC 1950: deflate (CM 8) with a window <= 32K, no preset dictionary, header check bits.
  const bool zlib_ok = [&] {
    if (zlib_header.size() < 2) return false;
    const uint32_t cmf = U8At(zlib_header, 0), flg = U8At(zlib_header, 1);
    return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && !(flg & 0x20) && (cmf * 256 + flg) % 31 == 0;
  }();
  if (!zlib_ok) return PngError("IDAT does not start with a valid zlib header");
  // Raw scanline bytes of the non-interlaced layout: a lower bound for Adam7 too (same pixels,
  // more filter bytes).
  const int64_t row_bytes = (int64_t{h.width} * h.channels * h.bit_depth + 7) / 8;
  const int64_t raw_bytes = int64_t{h.height} * (1 + row_bytes);
  if (idat_bytes * kMaxDeflateRatio < raw_bytes) {
    return PngError(absl::StrCat("header promises ", h.width, "x", h.height, " (", raw_bytes,
                                 " bytes of scanlines) but IDAT holds only ", idat_bytes,
                                 " compressed bytes; lying header or truncated data"));
  }
  return h;
}

std::string KeepPngPixelChunks(absl::string_view png) {
  std::string out(kPngSignature);
  out.reserve(png.size());
  for (size_t pos = kPngSignature.size(); Has(png, pos, 12);) {
    uint32_t length = 0;
    ReadU32BE(png, pos, &length);
    if (!Has(png, pos, size_t{length} + 12)) break;  // not from ProbePng; let the decoder fail
    const absl::string_view type = png.substr(pos + 4, 4);
    if (type == "IHDR" || type == "PLTE" || type == "IDAT" || type == "IEND") {
      out.append(png.data() + pos, size_t{length} + 12);
    }
    if (type == "IEND") break;
    pos += size_t{length} + 12;
  }
  return out;
}

}  // namespace lmeye::image_internal
