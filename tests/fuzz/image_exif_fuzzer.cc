// Fuzz target for the EXIF orientation reader (model/vision/image_exif.h): a TIFF block from a
// JPEG APP1, PNG eXIf or WebP EXIF chunk, read with bounds checks on every offset. Whatever the
// bytes, the answer is an orientation 1..8. Seeds: corpus/image_exif.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "model/vision/image_exif.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int orientation =
      lmeye::ParseExifOrientation(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (orientation < 1 || orientation > 8) std::abort();
  return 0;
}
