// Decoding untrusted image bytes into the RGB frame the preprocessor takes.
//
// The pixels match what the reference pipeline (PIL.Image.open(f).convert("RGB"), Pillow 9.4)
// produces, bit for bit on every fixture (image_golden_test), with documented exceptions:
//   * EXIF orientation is applied (see image_exif.h); PIL/Hugging Face ignore it.
//   * 16-bit grayscale PNGs keep the high byte of each sample. Pillow opens them as mode "I" and
//     its I->RGB conversion clips every value above 255, turning the photo all white. (16-bit
//     RGB, RGBA and gray+alpha PNGs: Pillow keeps the high byte too, so those agree.)
//   * CMYK JPEGs (Adobe inverted, as Photoshop and Pillow write them) go through OpenCV's
//     CMYK->RGB, k*(255-c)>>8 where Pillow rounds k*(255-c)/255: a channel can differ by 1,
//     rarely 2 levels (1 level after resize on the fixture).
// Alpha is dropped, not composited (as convert("RGB") does: a transparent pixel keeps its
// colour). Palette, gray and gray+alpha become RGB by replication / palette lookup.
//
// stderr: left alone, OpenCV's codecs print libpng/libjpeg warnings and errors. The structural
// walk in ProbeImage refuses every truncated or malformed container first; PNGs are passed on
// without their ancillary chunks (nothing for libpng to warn about); and damage only decoding can
// find (corrupt Huffman or deflate data in a well-formed file) is kept quiet by
// image_codec_messages.h. Such a JPEG still decodes, with artefacts, exactly as in PIL; such a
// PNG fails with "failed to decode".
#pragma once

#include <string>

#include <opencv2/core/mat.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/vision/image_probe.h"

namespace lmeye {

// Decodes JPEG, PNG, WebP or BMP (sniffed from the bytes, never from a file name) into a
// contiguous CV_8UC3 matrix in RGB order, EXIF orientation applied.
//
// The input is probed first (ProbeImage): size limits are enforced and the container structure
// validated before OpenCV allocates or decodes anything, so a hostile header costs nothing and
// truncated or corrupt files give INVALID_ARGUMENT with a message saying what is wrong instead of
// libjpeg/libpng warnings on stderr and a half-grey picture. Damage the walk cannot see (inside
// compressed data of a well-formed file) is reported as INVALID_ARGUMENT "failed to decode".
// Thread-safe; never throws.
absl::StatusOr<cv::Mat> DecodeImage(absl::string_view bytes,
                                    const ImageLimits& limits = ImageLimits());

// Reads the file at `path` (refusing files over limits.max_bytes before reading them) and decodes
// it with DecodeImage. NOT_FOUND / PERMISSION_DENIED style errors for the file itself.
absl::StatusOr<cv::Mat> DecodeImageFile(const std::string& path,
                                        const ImageLimits& limits = ImageLimits());

}  // namespace lmeye
