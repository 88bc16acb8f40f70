#include "model/vision/image_decode.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "model/common/status_macros.h"
#include "model/vision/image_codec_messages.h"
#include "model/vision/image_exif.h"
#include "model/vision/image_formats.h"

namespace lmeye {

absl::StatusOr<cv::Mat> DecodeImage(absl::string_view bytes, const ImageLimits& limits) {
  // The reference keeps image_codec_messages.o, which silences libjpeg/libpng, linked into every
  // binary that decodes images (a static library member is only linked when referenced).
  static const bool codec_messages_silenced = image_internal::CodecMessagesSilenced();
  (void)codec_messages_silenced;
  LMEYE_ASSIGN_OR_RETURN(const ImageHeader header, ProbeImage(bytes, limits));
  if (header.is_animated) {
    return absl::InvalidArgumentError("animated WebP is not supported (send a single frame)");
  }
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("image over 2 GiB");  // cv::Mat has int dimensions
  }
  // PNGs go to OpenCV without their ancillary chunks, so libpng has nothing to warn about.
  std::string png;
  if (header.format == ImageFormat::kPng) {
    png = image_internal::KeepPngPixelChunks(bytes);
    bytes = png;
  }
  try {
    // imdecode only reads the buffer; the const_cast is for cv::Mat's constructor.
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    // IGNORE_ORIENTATION: we apply EXIF ourselves for every format, from our own parse.
    const cv::Mat bgr = cv::imdecode(buffer, cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION);
    if (bgr.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "failed to decode ", DescribeImageHeader(header), ": corrupt compressed data"));
    }
    if (bgr.cols != header.width || bgr.rows != header.height || bgr.type() != CV_8UC3) {
      return absl::InternalError(absl::StrCat("decoder returned ", bgr.cols, "x", bgr.rows,
                                              " type ", bgr.type(), " for ",
                                              DescribeImageHeader(header)));
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    rgb = ApplyExifOrientation(rgb, header.orientation);
    if (!rgb.isContinuous()) rgb = rgb.clone();
    return rgb;
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("failed to decode ", DescribeImageHeader(header), ": ", e.what()));
  } catch (const std::exception& e) {  // std::bad_alloc and the like never reach the caller
    return absl::ResourceExhaustedError(
        absl::StrCat("failed to decode ", DescribeImageHeader(header), ": ", e.what()));
  }
}

absl::StatusOr<cv::Mat> DecodeImageFile(const std::string& path, const ImageLimits& limits) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open image ", path, ": ", std::strerror(errno)));
  }
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::InternalError(absl::StrCat("cannot size ", path));
  if (size > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", path, " is ", size, " bytes, over the limit of ", limits.max_bytes));
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  absl::StatusOr<cv::Mat> image = DecodeImage(bytes, limits);
  if (!image.ok()) {
    return absl::Status(image.status().code(), absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

}  // namespace lmeye
