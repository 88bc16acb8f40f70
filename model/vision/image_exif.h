// EXIF orientation: reading the tag and applying it to decoded pixels.
//
// Deliberate difference from the reference: Hugging Face's CLIPImageProcessor (through
// PIL.Image.open + convert("RGB")) ignores EXIF orientation, so a phone photo stored sideways
// with Orientation=6 reaches the model sideways. We apply it, as every image viewer does, so the
// model sees what the user saw. For the ~all images without the tag the results are identical.
#pragma once

#include <opencv2/core/mat.hpp>

#include "absl/strings/string_view.h"

namespace lmeye {

// Orientation (1..8) from an EXIF block: a TIFF structure ("II*\0" or "MM\0*", IFD0), optionally
// preceded by the "Exif\0\0" prefix that JPEG APP1 and many WebP writers include. Returns 1 (as
// stored) when the tag is missing or anything is malformed: a damaged EXIF block is never a reason
// to refuse or misrender a photo. Bounds-checked on every read.
int ParseExifOrientation(absl::string_view exif);

// Returns `image` transformed so that it displays upright for `orientation`, with the same
// semantics as PIL.ImageOps.exif_transpose: 2 mirror, 3 rotate 180, 4 flip vertically,
// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise. 1 and values
// outside 1..8 return `image` itself (shared, not copied).
cv::Mat ApplyExifOrientation(const cv::Mat& image, int orientation);

}  // namespace lmeye
