// DecodeImage: every supported layout to RGB, EXIF orientation, and the bad/ fixtures.
#include "model/vision/image_decode.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "model/vision/image_codec_messages.h"
#include "model/vision/image_exif.h"
#include "model/vision/image_formats.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string ReadImage(const std::string& relative) {
  std::ifstream in(testing::TestData("images/" + relative), std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool SameImage(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(ImageDecodeTest, PhotosAndVariantsDecodeToRgb) {
  // chelsea.png and chelsea_palette.png carry an iCCP chunk that libpng warns about
  // ("known incorrect sRGB profile"); decoding must stay silent.
  ::testing::internal::CaptureStderr();
  const struct {
    const char* file;
    int width, height;  // after EXIF orientation
  } cases[] = {
      {"astronaut.jpg", 512, 512},
      {"chelsea.png", 451, 300},
      {"coffee.jpg", 600, 400},
      {"rocket.jpg", 640, 427},
      {"grace_hopper.jpg", 512, 600},
      {"raccoon_face.jpg", 1024, 768},
      {"retina.jpg", 1411, 1411},
      {"camera.png", 512, 512},
      {"coins.png", 384, 303},
      {"exif_orientation_6.jpg", 1200, 1800},  // stored 1800x1200, rotated upright
      {"ascent.png", 512, 512},
      {"brick.png", 512, 512},
      {"variants/chelsea_progressive.jpg", 256, 170},
      {"variants/chelsea_444.jpg", 256, 170},
      {"variants/chelsea_420.jpg", 256, 170},
      {"variants/chelsea_cmyk.jpg", 256, 170},
      {"variants/chelsea_rgba.png", 256, 170},
      {"variants/chelsea_la.png", 256, 170},
      {"variants/chelsea_palette.png", 256, 170},
      {"variants/chelsea_gray16.png", 256, 170},
      {"variants/coffee_strip_600x12.jpg", 600, 12},
      {"variants/chelsea_lossless_rgba.webp", 256, 170},
      {"variants/chelsea_lossy.webp", 256, 170},
      {"variants/chelsea_24bit.bmp", 256, 170},
      {"variants/chelsea_8bit.bmp", 256, 170},
      {"bad/jpeg_named.png", 451, 300},  // a JPEG with a .png name: sniffed, accepted (as PIL)
  };
  for (const auto& c : cases) {
    absl::StatusOr<cv::Mat> rgb = DecodeImage(ReadImage(c.file));
    ASSERT_TRUE(rgb.ok()) << c.file << ": " << rgb.status();
    EXPECT_EQ(rgb->type(), CV_8UC3) << c.file;
    EXPECT_TRUE(rgb->isContinuous()) << c.file;
    EXPECT_EQ(rgb->cols, c.width) << c.file;
    EXPECT_EQ(rgb->rows, c.height) << c.file;
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(ImageDecodeTest, GrayLayoutsReplicateTheGrayValue) {
  for (const char* file :
       {"camera.png", "variants/chelsea_la.png", "variants/chelsea_gray16.png"}) {
    cv::Mat rgb = *DecodeImage(ReadImage(file));
    cv::Mat ch[3];
    cv::split(rgb, ch);
    EXPECT_EQ(cv::norm(ch[0], ch[1], cv::NORM_INF), 0) << file;
    EXPECT_EQ(cv::norm(ch[0], ch[2], cv::NORM_INF), 0) << file;
  }
  // 16-bit keeps the high byte (Pillow 9.4 would clip to an all-white image; see image_decode.h).
  cv::Mat gray16 = *DecodeImage(ReadImage("variants/chelsea_gray16.png"));
  double lo = 0, hi = 0;
  cv::minMaxLoc(gray16.reshape(1), &lo, &hi);
  EXPECT_EQ(lo, 1028 >> 8);  // PIL reports raw 16-bit range 1028..49858
  EXPECT_EQ(hi, 49858 >> 8);
}

TEST(ImageDecodeTest, AlphaIsDroppedNotComposited) {
  // chelsea_lossless_rgba.webp is chelsea_24bit.bmp plus an alpha ramp 0..255 left to right.
  // Alpha 1 (column 1) is nearly transparent: compositing onto white would give ~255 there;
  // dropping alpha (PIL's convert("RGB")) keeps the colour, so columns 1.. must equal the BMP.
  // Column 0 (alpha 0) is excluded: libwebp's lossless encoder (exact=0, Pillow's default)
  // rewrites the RGB of fully transparent pixels, PIL reads the same rewritten values.
  cv::Mat webp = *DecodeImage(ReadImage("variants/chelsea_lossless_rgba.webp"));
  cv::Mat bmp = *DecodeImage(ReadImage("variants/chelsea_24bit.bmp"));
  const cv::Rect opaque_enough(1, 0, 255, 170);
  EXPECT_TRUE(SameImage(webp(opaque_enough).clone(), bmp(opaque_enough).clone()));
}

TEST(ImageDecodeTest, OnePixelImagesAreValid) {
  // PIL decodes both (SOURCES.md), so we accept them: 1x1 is a legal image, not an attack.
  cv::Mat png = *DecodeImage(ReadImage("bad/one_by_one.png"));
  ASSERT_EQ(png.size(), cv::Size(1, 1));
  EXPECT_EQ(png.at<cv::Vec3b>(0, 0), cv::Vec3b(200, 100, 50));
  cv::Mat jpg = *DecodeImage(ReadImage("bad/one_by_one.jpg"));
  ASSERT_EQ(jpg.size(), cv::Size(1, 1));
  EXPECT_LE(
      cv::norm(cv::Mat(jpg.at<cv::Vec3b>(0, 0)), cv::Mat(cv::Vec3b(200, 100, 50)), cv::NORM_INF),
      3);  // lossy
}

TEST(ImageDecodeTest, ExifOrientationAppliedLikeExifTranspose) {
  // chelsea_o1..o8.jpg carry identical pixel data and differ only in the orientation tag.
  const cv::Mat stored = *DecodeImage(ReadImage("variants/orient/chelsea_o1.jpg"));
  ASSERT_EQ(stored.size(), cv::Size(64, 43));
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    cv::Mat rgb = *DecodeImage(ReadImage("variants/orient/chelsea_o" + std::to_string(o) + ".jpg"));
    EXPECT_TRUE(SameImage(rgb, ApplyExifOrientation(stored, o)));
    EXPECT_EQ(rgb.size(), o >= 5 ? cv::Size(43, 64) : cv::Size(64, 43));
  }
  // Spot-check the semantics on a 2x3 image rather than trusting ApplyExifOrientation blindly:
  // orientation 6 means "rotate 90 degrees clockwise to display".
  cv::Mat m = (cv::Mat_<uint8_t>(2, 3) << 1, 2, 3, 4, 5, 6);
  const struct {
    int orientation;
    uint8_t expected[6];  // 3 rows x 2 columns
  } spot[] = {{6, {4, 1, 5, 2, 6, 3}},
              {8, {3, 6, 2, 5, 1, 4}},
              {5, {1, 4, 2, 5, 3, 6}},
              {7, {6, 3, 5, 2, 4, 1}}};
  for (const auto& c : spot) {
    const cv::Mat expected(3, 2, CV_8UC1, const_cast<uint8_t*>(c.expected));
    EXPECT_TRUE(SameImage(ApplyExifOrientation(m, c.orientation), expected)) << c.orientation;
  }
  // PNG (eXIf chunk) and WebP (EXIF chunk) orientation too: both are lossless copies of the same
  // 64x43 picture with orientation 6.
  cv::Mat png = *DecodeImage(ReadImage("variants/orient/chelsea_o6.png"));
  cv::Mat webp = *DecodeImage(ReadImage("variants/orient/chelsea_o6.webp"));
  EXPECT_EQ(png.size(), cv::Size(43, 64));
  EXPECT_TRUE(SameImage(png, webp));
}

// Every file in bad/: the rejects give INVALID_ARGUMENT saying what is wrong, the accepts decode
// (what PIL does with each is in SOURCES.md). Nothing may reach stderr.
TEST(ImageDecodeTest, BadFixtures) {
  const struct {
    const char* file;
    const char* message;  // nullptr: accepted
  } cases[] = {
      {"bad/zero_bytes.jpg", "image is empty (zero bytes)"},
      {"bad/text_named.jpg", "not an image: the data looks like text"},
      {"bad/truncated.jpg", "invalid JPEG: truncated"},
      {"bad/soi_then_garbage.jpg", "invalid JPEG: reserved marker"},
      {"bad/truncated.png", "invalid PNG: truncated"},
      {"bad/lying_header.png", "lying header or truncated data"},
      {"bad/huge_dims.png", "image 60000x60000 has 3600000000 pixels, too many (limit 64000000)"},
      {"bad/huge_dims.jpg", "image 60000x60000 has 3600000000 pixels, too many (limit 64000000)"},
      {"bad/zero_width.png", "invalid PNG: zero size"},
      {"bad/bad_crc.png", "invalid PNG: bad CRC in chunk IHDR"},
      {"bad/one_by_one.png", nullptr},
      {"bad/one_by_one.jpg", nullptr},
      {"bad/jpeg_named.png", nullptr},
  };
  ::testing::internal::CaptureStderr();
  for (const auto& c : cases) {
    absl::StatusOr<cv::Mat> rgb = DecodeImage(ReadImage(c.file));
    if (c.message == nullptr) {
      EXPECT_TRUE(rgb.ok()) << c.file << ": " << rgb.status();
      continue;
    }
    ASSERT_FALSE(rgb.ok()) << c.file;
    EXPECT_EQ(rgb.status().code(), absl::StatusCode::kInvalidArgument) << c.file;
    EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(c.message)) << c.file;
    std::cout << c.file << " -> " << rgb.status().message() << "\n";
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// Why the structural walk exists: cv::imdecode alone accepts some of the bad fixtures (OpenCV 4.6
// + libjpeg-turbo 2.1 in Debian bookworm decodes truncated.jpg to a full 451x300 image whose
// missing part is grey, with no error) and lets libpng/libjpeg print to stderr. Whatever OpenCV
// does with each file (printed, as third-party behaviour is not ours to assert), DecodeImage
// rejects every bad fixture as INVALID_ARGUMENT, decodes the valid one exactly as cv::imdecode
// does, and prints nothing.
TEST(ImageDecodeTest, RejectsWhatOpenCvAloneMayAcceptAndStaysSilent) {
  const auto opencv_alone = [](const std::string& bytes) {
    cv::Mat image;
    try {
      image = cv::imdecode(
          cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data())),
          cv::IMREAD_COLOR);
    } catch (const cv::Exception& e) {
      std::cout << "  cv::Exception " << e.what() << "\n";
    }
    return image;
  };
  for (const char* file : {"bad/truncated.jpg", "bad/truncated.png", "bad/lying_header.png",
                           "bad/bad_crc.png", "bad/zero_width.png", "bad/soi_then_garbage.jpg"}) {
    const std::string bytes = ReadImage(file);
    const cv::Mat alone = opencv_alone(bytes);
    std::cout << file << ": cv::imdecode alone -> " << alone.cols << "x" << alone.rows << "\n";
    ::testing::internal::CaptureStderr();
    absl::StatusOr<cv::Mat> ours = DecodeImage(bytes, ImageLimits{});
    const std::string noise = ::testing::internal::GetCapturedStderr();
    EXPECT_FALSE(ours.ok()) << file << " decoded to " << ours->cols << "x" << ours->rows;
    if (!ours.ok()) {
      EXPECT_EQ(ours.status().code(), absl::StatusCode::kInvalidArgument) << file;
      EXPECT_FALSE(ours.status().message().empty()) << file;
    }
    EXPECT_EQ(noise, "") << file;
  }
  // The valid PNG with an iCCP chunk libpng warns about: same pixels, no warning.
  const std::string bytes = ReadImage("chelsea.png");
  cv::Mat bgr = opencv_alone(bytes);
  ASSERT_FALSE(bgr.empty());
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  ::testing::internal::CaptureStderr();
  absl::StatusOr<cv::Mat> ours = DecodeImage(bytes, ImageLimits{});
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_TRUE(SameImage(*ours, rgb));
}

// A hand-made 4x2 RLE8 BMP (Pillow cannot write RLE): red/green palette, rows stored bottom-up.
std::string RleBmp(bool complete) {
  auto u16 = [](uint32_t v) { return std::string{char(v & 0xFF), char(v >> 8 & 0xFF)}; };
  auto u32 = [&](uint32_t v) { return u16(v & 0xFFFF) + u16(v >> 16); };
  // bottom row: 4 x index 0, end of line; top row: 2 x index 1, 2 x index 0, end of bitmap.
  std::string rle("\x04\x00\x00\x00\x02\x01\x02\x00\x00\x01", 10);
  if (!complete) rle.resize(6);
  const std::string palette("\x00\x00\xff\x00\x00\xff\x00\x00", 8);  // BGRX red, green
  const uint32_t offset = 14 + 40 + 8;
  return "BM" + u32(offset + rle.size()) + u32(0) + u32(offset) + u32(40) + u32(4) + u32(2) +
         u16(1) + u16(8) + u32(1) + u32(rle.size()) + u32(0) + u32(0) + u32(2) + u32(0) + palette +
         rle;
}

TEST(ImageDecodeTest, RleBmp) {
  absl::StatusOr<cv::Mat> rgb = DecodeImage(RleBmp(true));
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  ASSERT_EQ(rgb->size(), cv::Size(4, 2));
  const cv::Vec3b red(255, 0, 0), green(0, 255, 0);
  EXPECT_EQ(rgb->at<cv::Vec3b>(0, 0), green);
  EXPECT_EQ(rgb->at<cv::Vec3b>(0, 1), green);
  EXPECT_EQ(rgb->at<cv::Vec3b>(0, 2), red);
  EXPECT_EQ(rgb->at<cv::Vec3b>(1, 3), red);
  ::testing::internal::CaptureStderr();
  EXPECT_THAT(std::string(DecodeImage(RleBmp(false)).status().message()),
              HasSubstr("invalid BMP: truncated: RLE data ends before end-of-bitmap"));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(ImageDecodeTest, CodecMessagesSilenced) {
  EXPECT_TRUE(image_internal::CodecMessagesSilenced());
}

// A PNG whose deflate data is damaged but whose CRCs are right (recomputed): only libpng can
// find it, and it must fail quietly.
TEST(ImageDecodeTest, CorruptDeflateInValidChunksFailsQuietly) {
  std::string png = ReadImage("variants/chelsea_la.png");
  const size_t idat = png.find("IDAT");
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length = length << 8 | static_cast<uint8_t>(png[idat - 4 + i]);
  for (size_t i = idat + 4 + 2; i < idat + 4 + length; i += 7)
    png[i] = static_cast<char>(png[i] ^ 0xA5);
  const uint32_t crc = image_internal::Crc32(absl::string_view(png).substr(idat, 4 + length));
  for (int i = 0; i < 4; ++i) png[idat + 4 + length + i] = static_cast<char>(crc >> (24 - 8 * i));
  ::testing::internal::CaptureStderr();
  absl::StatusOr<cv::Mat> rgb = DecodeImage(png);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()), HasSubstr("failed to decode PNG 256x170"));
}

TEST(ImageDecodeTest, FileHelperNamesThePath) {
  absl::StatusOr<cv::Mat> missing = DecodeImageFile(testing::TestData("images/nope.jpg"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<cv::Mat> bad = DecodeImageFile(testing::TestData("images/bad/truncated.png"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("truncated.png: invalid PNG"));
  ImageLimits small;
  small.max_bytes = 100;
  EXPECT_THAT(
      std::string(
          DecodeImageFile(testing::TestData("images/chelsea.png"), small).status().message()),
      HasSubstr("over the limit of 100"));
  EXPECT_TRUE(DecodeImageFile(testing::TestData("images/chelsea.png")).ok());
}

TEST(ImageDecodeTest, EveryPrefixRejectedSilently) {
  ::testing::internal::CaptureStderr();
  for (const char* file : {"bad/one_by_one.png", "variants/orient/chelsea_o6.jpg",
                           "variants/orient/chelsea_o6.webp", "variants/chelsea_8bit.bmp"}) {
    const std::string bytes = ReadImage(file);
    for (size_t n = 0; n < bytes.size(); n += (n < 200 ? 1 : 97)) {
      EXPECT_FALSE(DecodeImage(bytes.substr(0, n)).ok()) << file << " cut to " << n;
    }
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

// Single-byte corruptions of small valid files: the decoder must return (OK or
// INVALID_ARGUMENT), never crash, never print. Damage inside compressed data that the structural
// walk cannot see reaches libjpeg ("Corrupt JPEG data: ...") and is silenced by
// image_codec_messages.
TEST(ImageDecodeTest, ByteFlipsNeverCrash) {
  for (const char* file : {"bad/one_by_one.png", "variants/orient/chelsea_o1.jpg",
                           "variants/orient/chelsea_o6.webp", "variants/chelsea_8bit.bmp"}) {
    int n_rejected = 0, n_decoded = 0, n_noisy = 0;
    const std::string good = ReadImage(file);
    for (size_t i = 0; i < good.size(); i += std::max<size_t>(3, good.size() / 700)) {
      std::string bytes = good;
      bytes[i] = static_cast<char>(bytes[i] ^ 0x5A);
      ::testing::internal::CaptureStderr();
      absl::StatusOr<cv::Mat> rgb = DecodeImage(bytes);
      const std::string noise = ::testing::internal::GetCapturedStderr();
      if (!noise.empty() && ++n_noisy <= 3) std::cout << "  flip at " << i << ": " << noise;
      if (rgb.ok()) {
        ++n_decoded;
        EXPECT_EQ(rgb->type(), CV_8UC3);
      } else {
        ++n_rejected;
        EXPECT_EQ(rgb.status().code(), absl::StatusCode::kInvalidArgument) << rgb.status();
      }
    }
    std::cout << file << ": byte flips " << n_rejected << " rejected, " << n_decoded << " decoded, "
              << n_noisy << " printed to stderr\n";
    EXPECT_EQ(n_noisy, 0) << file;
    // PNG: every chunk is CRC-checked, so every flip is refused before libpng sees it.
    if (std::string(file).find(".png") != std::string::npos) {
      EXPECT_EQ(n_noisy, 0);
      EXPECT_EQ(n_decoded, 0);
    }
  }
}

}  // namespace
}  // namespace lmeye
