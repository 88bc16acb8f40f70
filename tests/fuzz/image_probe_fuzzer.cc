// Fuzz target for image probing (model/vision/image_probe.h): the container walk of JPEG, PNG,
// WebP and BMP that runs before any decoder sees the bytes, with the default limits and with
// small ones (so the limit checks themselves are reached at every stage of the walk). An accepted
// header must be within the limits it was probed with. Seeds: corpus/image_probe.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "model/vision/image_probe.h"

namespace {

void Probe(absl::string_view bytes, const lmeye::ImageLimits& limits) {
  auto header = lmeye::ProbeImage(bytes, limits);
  if (!header.ok()) return;
  if (header->width <= 0 || header->height <= 0 || header->width > limits.max_side ||
      header->height > limits.max_side ||
      int64_t{header->width} * header->height > limits.max_pixels || header->orientation < 1 ||
      header->orientation > 8) {
    std::abort();
  }
  lmeye::DescribeImageHeader(*header);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  Probe(bytes, lmeye::ImageLimits());
  lmeye::ImageLimits small;
  small.max_bytes = 4096;
  small.max_pixels = 64;
  small.max_side = 16;
  Probe(bytes, small);
  return 0;
}
