#include "model/vision/image_probe.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/common/status_macros.h"
#include "model/vision/image_bytes.h"
#include "model/vision/image_formats.h"

namespace lmeye {
namespace {

bool StartsWith(absl::string_view b, absl::string_view prefix) {
  return b.substr(0, prefix.size()) == prefix;
}

// Formats we recognise but do not decode, so the error can name them instead of "unknown".
absl::string_view UnsupportedFormatName(absl::string_view b) {
  if (StartsWith(b, "GIF87a") || StartsWith(b, "GIF89a")) return "GIF";
  if (StartsWith(b, absl::string_view("II*\0", 4)) ||
      StartsWith(b, absl::string_view("MM\0*", 4))) {
    return "TIFF";
  }
  if (image_internal::SafeSubstr(b, 4, 4) == "ftyp") {
    const absl::string_view brand = b.substr(8, 4);
    if (brand == "avif" || brand == "avis") return "AVIF";
    if (brand == "heic" || brand == "heix" || brand == "mif1" || brand == "msf1") return "HEIF";
    return "ISO-BMFF (video or HEIF-family)";
  }
  if (StartsWith(b, absl::string_view("\0\0\0\x0cjP  ", 8))) return "JPEG 2000";
  if (StartsWith(b, absl::string_view("\xff\x0a", 2)) ||
      StartsWith(b, absl::string_view("\0\0\0\x0cJXL ", 8))) {
    return "JPEG XL";
  }
  if (StartsWith(b, absl::string_view("\0\0\1\0", 4))) return "ICO";
  if (StartsWith(b, "8BPS")) return "PSD";
  if (StartsWith(b, "%PDF")) return "PDF";
  if (StartsWith(b, "RIFF")) return "RIFF (not WebP)";
  if (StartsWith(b, "<?xml") || StartsWith(b, "<svg")) return "SVG/XML";
  return "";
}

bool LooksLikeText(absl::string_view b) {
  const absl::string_view head = b.substr(0, 64);
  for (char c : head) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x09 || (u > 0x0D && u < 0x20) || u == 0x7F) return false;
  }
  return true;
}

std::string HexPrefix(absl::string_view b) {
  std::string out;
  for (char c : b.substr(0, 8)) {
    absl::StrAppend(&out, out.empty() ? "" : " ",
                    absl::StrFormat("%02x", static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

absl::string_view ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
  }
  return "?";
}

absl::Status CheckImageDimensions(int64_t width, int64_t height, const ImageLimits& limits) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("image has zero size ", width, "x", height));
  }
  if (width * height > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("image ", width, "x", height, " has ",
                                                   width * height, " pixels, too many (limit ",
                                                   limits.max_pixels, ")"));
  }
  if (width > limits.max_side || height > limits.max_side) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image ", width, "x", height, " exceeds the maximum side of ", limits.max_side, " pixels"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageHeader> ProbeImage(absl::string_view bytes, const ImageLimits& limits) {
  if (bytes.empty()) return absl::InvalidArgumentError("image is empty (zero bytes)");
  if (static_cast<int64_t>(bytes.size()) > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("image is ", bytes.size(), " bytes, over the limit of ", limits.max_bytes));
  }
  if (StartsWith(bytes, absl::string_view("\xff\xd8", 2))) {
    return image_internal::ProbeJpeg(bytes, limits);
  }
  if (StartsWith(bytes, absl::string_view("\x89PNG", 4))) {
    return image_internal::ProbePng(bytes, limits);
  }
  if (StartsWith(bytes, "RIFF") && image_internal::SafeSubstr(bytes, 8, 4) == "WEBP") {
    return image_internal::ProbeWebp(bytes, limits);
  }
  if (StartsWith(bytes, "BM")) return image_internal::ProbeBmp(bytes, limits);
  const absl::string_view name = UnsupportedFormatName(bytes);
  if (!name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported image format ", name, " (supported: JPEG, PNG, WebP, BMP)"));
  }
  if (LooksLikeText(bytes)) {
    return absl::InvalidArgumentError(
        "not an image: the data looks like text (supported: JPEG, PNG, WebP, BMP)");
  }
  return absl::InvalidArgumentError(absl::StrCat("unrecognised image format (first bytes ",
                                                 HexPrefix(bytes),
                                                 "; supported: JPEG, PNG, WebP, BMP)"));
}

std::string DescribeImageHeader(const ImageHeader& h) {
  std::string s = absl::StrCat(ImageFormatName(h.format), " ", h.width, "x", h.height, ", ");
  if (h.is_palette) {
    absl::StrAppend(&s, "palette ", h.bit_depth, "-bit");
  } else if (h.is_cmyk) {
    absl::StrAppend(&s, "CMYK");
  } else {
    absl::StrAppend(&s, h.channels, " channel", h.channels == 1 ? "" : "s", ", ", h.bit_depth,
                    "-bit");
  }
  if (h.has_alpha) absl::StrAppend(&s, ", alpha");
  if (h.is_animated) absl::StrAppend(&s, ", animated");
  if (h.orientation != 1) absl::StrAppend(&s, ", EXIF orientation ", h.orientation);
  return s;
}

}  // namespace lmeye
