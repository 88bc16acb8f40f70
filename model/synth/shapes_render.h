// Draws a shapes-world scene (shapes_world.h) with OpenCV.
//
// Contract, which the tests check pixel by pixel:
//  - the image is image_size x image_size, 8-bit, 3 channels in OpenCV's BGR order;
//  - each object is filled with exactly ColorRgb(color) inside its outline (anti-aliased only
//    along the edge), so the pixel at an object's centre is its colour;
//  - an object's pixels stay inside its bounding box (give or take one anti-aliased edge
//    pixel), so objects, kMinGap (>= 2.5 px) apart, never touch;
//  - the same scene and size give the same pixels (noise comes from the scene's own kTexture
//    stream, seeded by (seed, index)).
//
// Shapes inside the bounding box of side s: circle of diameter s; square of side 0.86 s (about
// the circle's area); triangle pointing up with base and height s; diamond with diagonals s;
// cross (a plus sign) of two bars s long and s / 3 thick.
//
// Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "model/synth/shapes_world.h"

namespace lmeye::synth {

// Smallest and largest --size: below 64 a small object shrinks under 13 px; above 1024 the files
// only grow.
inline constexpr int kMinImageSize = 64;
inline constexpr int kMaxImageSize = 1024;

// `seed` is the dataset's (for the noise texture). image_size in [kMinImageSize, kMaxImageSize].
cv::Mat RenderScene(const Scene& scene, uint64_t seed, int image_size);

// Writes RenderScene's image as PNG with fixed compression settings, so the bytes are
// reproducible. Internal naming the path when OpenCV cannot encode or write it.
absl::Status WriteScenePng(const cv::Mat& image, const std::string& path);

}  // namespace lmeye::synth
