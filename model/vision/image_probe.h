// Reading what an encoded image claims to be, before any decoder touches it.
//
// ProbeImage sniffs the magic bytes (the file name is never trusted), reads the dimensions from
// the container's own header (PNG IHDR, JPEG SOFn, WebP VP8/VP8L/VP8X, BMP DIB header) and walks
// the whole container structure: every PNG chunk with its CRC, every JPEG segment up to EOI, the
// RIFF chunk sizes, the BMP pixel array bounds. That walk is what lets DecodeImage promise that
// OpenCV never sees a truncated or lying file: OpenCV's libjpeg/libpng glue prints warnings to
// stderr and may return partial (grey-filled) images instead of failing, and it allocates the
// full frame from the header before reading a single pixel.
//
// Every function here is pure, thread-safe, and bounds-checked: any input, including a hostile
// one, gives either a header or an INVALID_ARGUMENT status whose message says what is wrong.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lmeye {

enum class ImageFormat { kJpeg, kPng, kWebp, kBmp };

// "JPEG", "PNG", "WebP", "BMP".
absl::string_view ImageFormatName(ImageFormat format);

// Caps enforced before decoding. The defaults accept every real photo (a 50 MP camera frame is
// 8192 x 6144, a phone panorama ~20000 x 4000) while keeping one decoded RGB frame under ~200 MB.
// Pillow's own guard (DecompressionBombError) is at 178,956,970 pixels.
struct ImageLimits {
  int64_t max_bytes = 32 << 20;     // encoded size
  int64_t max_pixels = 64'000'000;  // width * height of the decoded frame
  int max_side = 32768;             // largest width or height
};

// What the container says, validated for internal consistency (not decoded).
struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  int width = 0;  // as stored, before EXIF orientation
  int height = 0;
  // Colour channels as stored: 1 gray, 2 gray+alpha, 3 RGB / YCbCr, 4 RGBA or CMYK. Palette images
  // report 1 with is_palette set.
  int channels = 0;
  int bit_depth = 8;  // per channel (PNG 1..16, BMP bits per pixel / channels rounded, else 8)
  bool is_palette = false;
  bool has_alpha = false;
  bool is_cmyk = false;      // 4-component JPEG
  bool is_animated = false;  // WebP with an ANIM chunk (rejected by DecodeImage)
  // EXIF orientation tag 1..8 (1 = as stored) from JPEG APP1, PNG eXIf or WebP EXIF; 1 when absent
  // or unreadable (a broken EXIF block is not a reason to refuse a photo).
  int orientation = 1;
};

// Sniffs, reads and structurally validates `bytes`, enforcing `limits` as soon as the size (then
// the dimensions) are known, so a hostile header is refused with a limit error before the rest
// of the file is even walked. Errors (all INVALID_ARGUMENT): empty input, too many bytes,
// unknown or unsupported format (named when recognised: GIF, TIFF, HEIC, ...), truncation, bad
// PNG CRC, zero or over-limit dimensions, a header promising more pixels than the data can hold.
absl::StatusOr<ImageHeader> ProbeImage(absl::string_view bytes,
                                       const ImageLimits& limits = ImageLimits());

// OK if a width x height frame fits in `limits` (positive sides, then max_pixels, then max_side);
// otherwise INVALID_ARGUMENT saying which limit and the numbers.
absl::Status CheckImageDimensions(int64_t width, int64_t height, const ImageLimits& limits);

// "PNG 451x300, 3 channels, 8-bit" (for logs and error messages).
std::string DescribeImageHeader(const ImageHeader& header);

}  // namespace lmeye
