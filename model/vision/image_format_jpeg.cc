// JPEG marker walk (see image_formats.h).
//
// libjpeg (through OpenCV) "recovers" from most damage with a warning on stderr and grey-filled
// output; this walk refuses instead, before the decoder runs. It checks structure only: damage
// inside the entropy-coded data of a well-formed file is the decoder's to find.
#include <algorithm>
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

// Progressive JPEGs need a handful of scans (libjpeg's default script writes 10). Thousands of
// tiny scans make libjpeg re-process the whole coefficient buffer each time: a CPU bomb in a few
// kilobytes (libjpeg-turbo's djpeg guards the same way with -maxscans).
constexpr int kMaxScans = 1000;

constexpr uint8_t kSoi = 0xD8, kEoi = 0xD9, kSos = 0xDA, kTem = 0x01, kApp1 = 0xE1;

absl::Status JpegError(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid JPEG: ", what));
}

bool IsRst(uint8_t m) { return m >= 0xD0 && m <= 0xD7; }

// SOF0..SOF15 minus DHT (C4), JPG (C8) and DAC (CC).
bool IsSof(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

// Baseline, extended sequential, progressive; Huffman or arithmetic. Lossless (C3, CB) and
// hierarchical (C5-C7, CD-CF) frames are not decodable by libjpeg-turbo.
bool IsSupportedSof(uint8_t m) {
  return m == 0xC0 || m == 0xC1 || m == 0xC2 || m == 0xC9 || m == 0xCA;
}

// Huffman coding spends at least one bit on each block's DC coefficient (no Huffman code is
// shorter), and every MCU holds at least one block of each component: scans with fewer bits than
// the frame has MCUs prove the header lies or the data was cut, before libjpeg allocates and
// grey-fills the whole frame. (An 824-byte file claiming 7000x7000 would cost ~300 MB and ~1 s.)
// Arithmetic coding can go below a bit a block, so it is not bounded this way.
bool IsHuffmanSof(uint8_t m) { return m == 0xC0 || m == 0xC1 || m == 0xC2; }

// Skips entropy-coded data starting at `pos`; returns the offset of the 0xFF of the next real
// marker, or npos if the data runs to the end of the file. Inside a scan 0xFF00 is a stuffed
// 0xFF, RSTn markers belong to the scan, and extra 0xFF bytes are fill.
size_t SkipEntropyData(absl::string_view b, size_t pos) {
  while (pos < b.size()) {
    if (U8At(b, pos) != 0xFF) {
      ++pos;
      continue;
    }
    size_t next = pos + 1;
    while (next < b.size() && U8At(b, next) == 0xFF) ++next;
    if (next >= b.size()) return absl::string_view::npos;
    const uint8_t m = U8At(b, next);
    if (m == 0x00 || IsRst(m)) {
      pos = next + 1;
      continue;
    }
    return next - 1;
  }
  return absl::string_view::npos;
}

}  // namespace

absl::StatusOr<ImageHeader> ProbeJpeg(absl::string_view bytes, const ImageLimits& limits) {
  if (!Has(bytes, 0, 2) || U8At(bytes, 0) != 0xFF || U8At(bytes, 1) != kSoi) {
    return JpegError("no SOI marker");
  }
  ImageHeader h;
  h.format = ImageFormat::kJpeg;
  bool seen_sof = false, seen_exif = false, huffman = false;
  int n_scans = 0;
  int64_t n_mcus = 0, entropy_bytes = 0;
  size_t pos = 2;
  while (true) {
    if (pos >= bytes.size()) {
      return JpegError(absl::StrFormat("truncated: file ends at offset %d before EOI", pos));
    }
    if (U8At(bytes, pos) != 0xFF) {
      // libjpeg would warn "extraneous bytes before marker" on stderr and resynchronise.
      return JpegError(absl::StrFormat("corrupt data: expected a marker at offset %d, found 0x%02x",
                                       pos, U8At(bytes, pos)));
    }
    while (pos + 1 < bytes.size() && U8At(bytes, pos + 1) == 0xFF) ++pos;  // fill bytes
    if (pos + 1 >= bytes.size()) return JpegError("truncated: file ends inside a marker");
    const uint8_t marker = U8At(bytes, pos + 1);
    const size_t marker_pos = pos;
    pos += 2;
    if (marker == kEoi) break;
    if (marker == kSoi) return JpegError(absl::StrFormat("second SOI at offset %d", marker_pos));
    if (IsRst(marker) || marker == kTem) continue;  // standalone markers, no length
    if (marker < 0xC0) {
      return JpegError(absl::StrFormat("reserved marker 0x%02x at offset %d (corrupt data)", marker,
                                       marker_pos));
    }
    uint32_t length = 0;
    if (!ReadU16BE(bytes, pos, &length)) return JpegError("truncated: segment length cut off");
    if (length < 2) {
      return JpegError(
          absl::StrFormat("marker 0x%02x at offset %d has length %d", marker, marker_pos, length));
    }
    if (!Has(bytes, pos, length)) {
      return JpegError(
          absl::StrFormat("truncated: marker 0x%02x at offset %d claims %d bytes, only %d remain",
                          marker, marker_pos, length, bytes.size() - pos));
    }
    const absl::string_view segment = bytes.substr(pos + 2, length - 2);
    pos += length;
    if (IsSof(marker)) {
      if (seen_sof) return JpegError("more than one SOF frame header");
      if (!IsSupportedSof(marker)) {
        return JpegError(absl::StrFormat(
            "unsupported frame type SOF%d (lossless or hierarchical JPEG)", marker - 0xC0));
      }
      if (segment.size() < 6) return JpegError("SOF segment too short");
      const int precision = U8At(segment, 0);
      uint32_t height = 0, width = 0;
      ReadU16BE(segment, 1, &height);
      ReadU16BE(segment, 3, &width);
      const int n_components = U8At(segment, 5);
      if (precision != 8) {
        return JpegError(absl::StrCat("unsupported ", precision, "-bit samples (only 8-bit)"));
      }
      if (width == 0 || height == 0) {
        // Height 0 defers the height to a DNL marker, which almost nothing writes or reads.
        return JpegError(absl::StrCat("zero size ", width, "x", height, " in SOF"));
      }
      if (n_components != 1 && n_components != 3 && n_components != 4) {
        return JpegError(absl::StrCat("unsupported component count ", n_components));
      }
      if (segment.size() != 6 + 3 * static_cast<size_t>(n_components)) {
        return JpegError("SOF length does not match its component count");
      }
      int h_max = 1, v_max = 1;
      for (int c = 0; c < n_components; ++c) {
        const int sampling = U8At(segment, 6 + 3 * c + 1);
        h_max = std::max(h_max, sampling >> 4);
        v_max = std::max(v_max, sampling & 0x0F);
      }
      n_mcus = ((int64_t{width} + 8 * h_max - 1) / (8 * h_max)) *
               ((int64_t{height} + 8 * v_max - 1) / (8 * v_max));
      huffman = IsHuffmanSof(marker);
      LMEYE_RETURN_IF_ERROR(CheckImageDimensions(width, height, limits));
      seen_sof = true;
      h.width = static_cast<int>(width);
      h.height = static_cast<int>(height);
      h.channels = n_components;
      h.is_cmyk = n_components == 4;
    } else if (marker == kApp1 && !seen_exif &&
               segment.substr(0, 6) == absl::string_view("Exif\0\0", 6)) {
      seen_exif = true;
      h.orientation = ParseExifOrientation(segment);
    } else if (marker == kSos) {
      if (!seen_sof) return JpegError("scan (SOS) before the frame header (SOF)");
      if (++n_scans > kMaxScans) {
        return JpegError(absl::StrCat("more than ", kMaxScans, " scans (decompression CPU bomb)"));
      }
      const size_t scan_start = pos;
      pos = SkipEntropyData(bytes, pos);
      if (pos == absl::string_view::npos) {
        return JpegError("truncated: entropy-coded data ends without EOI");
      }
      entropy_bytes += static_cast<int64_t>(pos - scan_start);
    }
  }
  if (!seen_sof) return JpegError("no frame header (SOF) before EOI");
  if (n_scans == 0) return JpegError("no scan (SOS) before EOI: no image data");
  if (huffman && entropy_bytes * 8 < n_mcus) {
    return JpegError(absl::StrCat("frame header promises ", h.width, "x", h.height, " (", n_mcus,
                                  " MCUs, at least one bit each) but the scans hold only ",
                                  entropy_bytes, " bytes; lying header or truncated data"));
  }
  return h;
}

}  // namespace lmeye::image_internal
