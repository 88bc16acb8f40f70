// Per-format container walkers behind ProbeImage (internal to model/vision/image_*).
//
// Each takes the whole encoded file, already sniffed as its format, and returns the header or an
// INVALID_ARGUMENT status naming the format and what is wrong. `limits` are checked (with
// CheckImageDimensions) as soon as the dimensions are read, before the rest of the walk. None
// allocates in proportion to the claimed image size, so a 60000x60000 header costs nothing here.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/vision/image_probe.h"

namespace lmeye::image_internal {

// Every chunk's length and CRC, IHDR first and valid, PLTE for palette images, IDAT present and
// big enough to possibly inflate to the promised frame, IEND present; orientation from eXIf.
absl::StatusOr<ImageHeader> ProbePng(absl::string_view bytes, const ImageLimits& limits);

// A copy of a PNG that ProbePng accepted with only the chunks that decide the RGB pixels: IHDR,
// PLTE, IDAT, IEND. libpng prints warnings on stderr for many ancillary chunks (iCCP "known
// incorrect sRGB profile" is common in real photos, including the chelsea.png fixture), and
// neither OpenCV nor PIL's convert("RGB") applies gamma, ICC or transparency to RGB output, so
// dropping the rest changes no pixel.
std::string KeepPngPixelChunks(absl::string_view png);

// Marker walk from SOI to EOI: segment lengths, exactly one supported SOFn (baseline, extended,
// progressive; 8-bit; 1, 3 or 4 components) before the first SOS, entropy-coded data that
// reaches EOI; orientation from the first Exif APP1.
absl::StatusOr<ImageHeader> ProbeJpeg(absl::string_view bytes, const ImageLimits& limits);

// RIFF container: declared sizes inside the file, a VP8/VP8L bitstream header whose size matches
// VP8X's canvas, ANIM flagged; orientation from the EXIF chunk.
absl::StatusOr<ImageHeader> ProbeWebp(absl::string_view bytes, const ImageLimits& limits);

// BITMAPCOREHEADER / BITMAPINFOHEADER (v1..v5): supported depth and compression, palette and
// pixel array inside the file (RLE streams walked to their end-of-bitmap code).
absl::StatusOr<ImageHeader> ProbeBmp(absl::string_view bytes, const ImageLimits& limits);

// Standard CRC-32 (ISO-HDLC, as PNG and zlib use) of `data`.
uint32_t Crc32(absl::string_view data, uint32_t crc = 0);

}  // namespace lmeye::image_internal
