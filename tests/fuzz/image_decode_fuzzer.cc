// Fuzz target for image decoding (model/vision/image_decode.h): probe, then OpenCV's codecs
// (libjpeg-turbo, libpng, libwebp; not instrumented), then EXIF orientation. A decoded image is
// contiguous 8-bit RGB of the probed size (sides swapped by orientations 5..8).
// The limits are smaller than the server's (1 MP, not 64 MP) so that an input promising a
// legitimately large frame costs milliseconds, not seconds, and libFuzzer keeps its pace; the
// limit checks themselves are the same code. Seeds: corpus/image_decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "model/vision/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  lmeye::ImageLimits limits;
  limits.max_pixels = 1 << 20;
  limits.max_side = 4096;
  auto header = lmeye::ProbeImage(bytes, limits);
  auto image = lmeye::DecodeImage(bytes, limits);
  if (!image.ok()) return 0;
  if (!header.ok() || image->type() != CV_8UC3 || !image->isContinuous()) std::abort();
  const bool swapped = header->orientation >= 5;
  if (image->cols != (swapped ? header->height : header->width) ||
      image->rows != (swapped ? header->width : header->height)) {
    std::abort();
  }
  return 0;
}
