// ProbeImage: container walks, limits, and one clear error per malformed input.
#include "model/vision/image_probe.h"

#include <cstdint>

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "model/vision/image_formats.h"
#include "tests/common/test_data.h"

namespace lmeye {
namespace {

using ::testing::HasSubstr;

std::string ReadImage(const std::string& relative) {
  std::ifstream in(testing::TestData("images/" + relative), std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << relative;
  return buffer.str();
}

struct ProbeCase {
  const char* file;
  ImageFormat format;
  int width, height, channels;
  bool palette, alpha;
  int orientation;
};

TEST(ImageProbeTest, FixtureHeaders) {
  const ProbeCase cases[] = {
      {"chelsea.png", ImageFormat::kPng, 451, 300, 3, false, false, 1},
      {"astronaut.jpg", ImageFormat::kJpeg, 512, 512, 3, false, false, 1},
      {"grace_hopper.jpg", ImageFormat::kJpeg, 512, 600, 3, false, false, 1},
      {"retina.jpg", ImageFormat::kJpeg, 1411, 1411, 3, false, false, 1},
      {"camera.png", ImageFormat::kPng, 512, 512, 1, false, false, 1},
      {"coins.png", ImageFormat::kPng, 384, 303, 1, false, false, 1},
      {"exif_orientation_6.jpg", ImageFormat::kJpeg, 1800, 1200, 3, false, false, 6},
      {"variants/chelsea_progressive.jpg", ImageFormat::kJpeg, 256, 170, 3, false, false, 1},
      {"variants/chelsea_cmyk.jpg", ImageFormat::kJpeg, 256, 170, 4, false, false, 1},
      {"variants/chelsea_rgba.png", ImageFormat::kPng, 256, 170, 4, false, true, 1},
      {"variants/chelsea_la.png", ImageFormat::kPng, 256, 170, 2, false, true, 1},
      {"variants/chelsea_palette.png", ImageFormat::kPng, 256, 170, 1, true, false, 1},
      {"variants/chelsea_gray16.png", ImageFormat::kPng, 256, 170, 1, false, false, 1},
      {"variants/coffee_strip_600x12.jpg", ImageFormat::kJpeg, 600, 12, 3, false, false, 1},
      {"variants/chelsea_lossless_rgba.webp", ImageFormat::kWebp, 256, 170, 4, false, true, 1},
      {"variants/chelsea_lossy.webp", ImageFormat::kWebp, 256, 170, 3, false, false, 1},
      {"variants/chelsea_24bit.bmp", ImageFormat::kBmp, 256, 170, 3, false, false, 1},
      {"variants/chelsea_8bit.bmp", ImageFormat::kBmp, 256, 170, 1, true, false, 1},
      {"variants/orient/chelsea_o6.png", ImageFormat::kPng, 64, 43, 3, false, false, 6},
      {"variants/orient/chelsea_o6.webp", ImageFormat::kWebp, 64, 43, 3, false, false, 6},
      // A JPEG named .png: the name is never trusted.
      {"bad/jpeg_named.png", ImageFormat::kJpeg, 451, 300, 3, false, false, 1},
      {"bad/one_by_one.png", ImageFormat::kPng, 1, 1, 3, false, false, 1},
      {"bad/one_by_one.jpg", ImageFormat::kJpeg, 1, 1, 3, false, false, 1},
  };
  for (const ProbeCase& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<ImageHeader> h = ProbeImage(ReadImage(c.file));
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->format, c.format);
    EXPECT_EQ(h->width, c.width);
    EXPECT_EQ(h->height, c.height);
    EXPECT_EQ(h->channels, c.channels);
    EXPECT_EQ(h->is_palette, c.palette);
    EXPECT_EQ(h->has_alpha, c.alpha);
    EXPECT_EQ(h->orientation, c.orientation);
  }
  EXPECT_EQ(ProbeImage(ReadImage("variants/chelsea_gray16.png"))->bit_depth, 16);
  EXPECT_TRUE(ProbeImage(ReadImage("variants/chelsea_cmyk.jpg"))->is_cmyk);
}

TEST(ImageProbeTest, JpegExifOrientationAllEight) {
  for (int o = 1; o <= 8; ++o) {
    const std::string file = "variants/orient/chelsea_o" + std::to_string(o) + ".jpg";
    absl::StatusOr<ImageHeader> h = ProbeImage(ReadImage(file));
    ASSERT_TRUE(h.ok()) << file << ": " << h.status();
    EXPECT_EQ(h->orientation, o) << file;
  }
}

// Every file in bad/ (the fixture's expectations are in SOURCES.md). Decoding is covered in
// image_decode_test; here the probe alone must already refuse all the rejects.
TEST(ImageProbeTest, BadFilesRejectedWithClearMessage) {
  const struct {
    const char* file;
    const char* message;
  } cases[] = {
      {"bad/zero_bytes.jpg", "empty (zero bytes)"},
      {"bad/text_named.jpg", "looks like text"},
      {"bad/truncated.jpg", "truncated: entropy-coded data ends without EOI"},
      {"bad/soi_then_garbage.jpg", "reserved marker 0x0b"},
      {"bad/truncated.png", "truncated: chunk IDAT claims"},
      {"bad/lying_header.png", "lying header or truncated data"},
      {"bad/huge_dims.png", "60000x60000 has 3600000000 pixels, too many (limit 64000000)"},
      {"bad/huge_dims.jpg", "60000x60000 has 3600000000 pixels, too many (limit 64000000)"},
      {"bad/zero_width.png", "zero size 0x16"},
      {"bad/bad_crc.png", "bad CRC in chunk IHDR"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<ImageHeader> h = ProbeImage(ReadImage(c.file));
    ASSERT_FALSE(h.ok()) << c.file;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << c.file;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr(c.message)) << c.file;
  }
}

TEST(ImageProbeTest, LimitsCheckedBeforeWalking) {
  const std::string chelsea = ReadImage("chelsea.png");  // 451x300, 240512 bytes
  ImageLimits limits;
  limits.max_bytes = 1000;
  EXPECT_THAT(std::string(ProbeImage(chelsea, limits).status().message()),
              HasSubstr("240512 bytes, over the limit of 1000"));
  limits = ImageLimits();
  limits.max_pixels = 100000;
  EXPECT_THAT(std::string(ProbeImage(chelsea, limits).status().message()),
              HasSubstr("451x300 has 135300 pixels, too many (limit 100000)"));
  limits = ImageLimits();
  limits.max_side = 400;
  EXPECT_THAT(std::string(ProbeImage(chelsea, limits).status().message()),
              HasSubstr("exceeds the maximum side of 400"));
  // With a generous pixel limit, the 60000x60000 headers hit the side limit instead.
  limits = ImageLimits();
  limits.max_pixels = int64_t{1} << 40;
  for (const char* file : {"bad/huge_dims.png", "bad/huge_dims.jpg"}) {
    EXPECT_THAT(std::string(ProbeImage(ReadImage(file), limits).status().message()),
                HasSubstr("60000x60000 exceeds the maximum side of 32768"))
        << file;
  }
}

TEST(ImageProbeTest, UnsupportedFormatsNamed) {
  const struct {
    std::string bytes;
    const char* message;
  } cases[] = {
      {"GIF89a\x01\x00\x01\x00", "unsupported image format GIF"},
      {std::string("II*\0\x08\0\0\0", 8), "unsupported image format TIFF"},
      {std::string("\0\0\0\x18"
                   "ftypheic\0\0\0\0",
                   16),
       "unsupported image format HEIF"},
      {std::string("\0\0\0\x18"
                   "ftypavif\0\0\0\0",
                   16),
       "unsupported image format AVIF"},
      {"%PDF-1.7\n", "unsupported image format PDF"},
      {std::string("\x01\x02\x03\x04\xfe\xff\x00\x10", 8),
       "unrecognised image format (first bytes 01 02 03 04 fe ff 00 10"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(std::string(ProbeImage(c.bytes).status().message()), HasSubstr(c.message));
  }
}

// Every strict prefix of a valid file is refused by the walk (PNG lacks IEND or a chunk is cut,
// JPEG lacks EOI, WebP/BMP lack declared bytes); none may crash or read out of bounds (run the
// suite under ASan to make that last part bite).
TEST(ImageProbeTest, EveryPrefixOfValidFilesRejected) {
  for (const char* file :
       {"bad/one_by_one.png", "bad/one_by_one.jpg", "variants/orient/chelsea_o6.jpg",
        "variants/orient/chelsea_o6.webp", "variants/chelsea_lossy.webp"}) {
    const std::string bytes = ReadImage(file);
    ASSERT_TRUE(ProbeImage(bytes).ok()) << file;
    for (size_t n = 0; n < bytes.size(); ++n) {
      absl::StatusOr<ImageHeader> h = ProbeImage(bytes.substr(0, n));
      EXPECT_FALSE(h.ok()) << file << " cut to " << n << " bytes";
      if (!h.ok()) {
        EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
      }
    }
  }
  const std::string bmp = ReadImage("variants/chelsea_24bit.bmp");
  for (size_t n : {size_t{1}, size_t{2}, size_t{13}, size_t{20}, size_t{54}, bmp.size() - 1}) {
    EXPECT_FALSE(ProbeImage(bmp.substr(0, n)).ok()) << "bmp cut to " << n;
  }
  EXPECT_THAT(std::string(ProbeImage(bmp.substr(0, bmp.size() - 1)).status().message()),
              HasSubstr("truncated: 256x170 at 24 bpp needs"));
}

TEST(ImageProbeTest, HandMadeJpegDefects) {
  const std::string good = ReadImage("variants/orient/chelsea_o1.jpg");
  const size_t sof = good.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  std::string twelve_bit = good;
  twelve_bit[sof + 4] = 12;
  EXPECT_THAT(std::string(ProbeImage(twelve_bit).status().message()),
              HasSubstr("unsupported 12-bit samples"));
  std::string lossless = good;
  lossless[sof + 1] = '\xc3';
  EXPECT_THAT(std::string(ProbeImage(lossless).status().message()),
              HasSubstr("unsupported frame type SOF3"));
  std::string no_sof = good;
  no_sof[sof + 1] = '\xfe';  // turn the SOF into a comment
  EXPECT_THAT(std::string(ProbeImage(no_sof).status().message()),
              HasSubstr("scan (SOS) before the frame header"));
  const std::string stray = good.substr(0, 2) + "xx" + good.substr(2);
  EXPECT_THAT(std::string(ProbeImage(stray).status().message()),
              HasSubstr("expected a marker at offset 2"));
  // Scan flood: the one scan repeated 1001 times.
  const size_t sos = good.find("\xff\xda"), eoi = good.rfind("\xff\xd9");
  std::string flood = good.substr(0, sos);
  for (int i = 0; i < 1001; ++i) flood += good.substr(sos, eoi - sos);
  flood += good.substr(eoi);
  EXPECT_THAT(std::string(ProbeImage(flood).status().message()), HasSubstr("more than 1000 scans"));
  // Trailing bytes after EOI are ignored, as libjpeg and PIL ignore them.
  EXPECT_TRUE(ProbeImage(good + "trailing junk").ok());
}

// A frame header promising far more pixels than its scans could code (at least one Huffman bit
// per MCU): refused before a decoder allocates and grey-fills the frame.
TEST(ImageProbeTest, JpegHeaderLargerThanItsScansIsRefused) {
  const std::string good = ReadImage("variants/orient/chelsea_o1.jpg");
  ASSERT_TRUE(ProbeImage(good).ok());
  const size_t sof = good.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  auto resized = [&](int width, int height) {
    std::string out = good;
    out[sof + 5] = static_cast<char>(height >> 8);
    out[sof + 6] = static_cast<char>(height & 0xFF);
    out[sof + 7] = static_cast<char>(width >> 8);
    out[sof + 8] = static_cast<char>(width & 0xFF);
    return out;
  };
  auto lying = ProbeImage(resized(7000, 7000));
  ASSERT_FALSE(lying.ok());
  EXPECT_EQ(lying.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(lying.status().message()), HasSubstr("7000x7000"));
  EXPECT_THAT(std::string(lying.status().message()), HasSubstr("lying header or truncated data"));
  // Within what the scans can hold, a larger header is the decoder's to judge.
  EXPECT_TRUE(ProbeImage(resized(300, 200)).ok());
}

TEST(ImageProbeTest, HandMadePngDefects) {
  const std::string good = ReadImage("bad/one_by_one.png");
  std::string bad_idat_crc = good;
  bad_idat_crc[bad_idat_crc.find("IDAT") + 4 + 12] ^= 1;  // a byte inside IDAT's CRC field
  EXPECT_THAT(std::string(ProbeImage(bad_idat_crc).status().message()),
              HasSubstr("bad CRC in chunk IDAT"));
  // A zlib header with a wrong check value, in a chunk with a correct CRC: refused, where libpng
  // would print "libpng error: IDAT: incorrect header check".
  std::string bad_zlib = good;
  const size_t idat = bad_zlib.find("IDAT");
  bad_zlib[idat + 5] ^= 1;
  uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length = length << 8 | static_cast<uint8_t>(bad_zlib[idat - 4 + i]);
  const uint32_t crc = image_internal::Crc32(absl::string_view(bad_zlib).substr(idat, 4 + length));
  for (int i = 0; i < 4; ++i)
    bad_zlib[idat + 4 + length + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_THAT(std::string(ProbeImage(bad_zlib).status().message()),
              HasSubstr("IDAT does not start with a valid zlib header"));
  const size_t iend = good.find("IEND");
  EXPECT_THAT(std::string(ProbeImage(good.substr(0, iend - 4)).status().message()),
              HasSubstr("without IEND"));
}

TEST(ImageProbeTest, DescribeHeader) {
  EXPECT_EQ(DescribeImageHeader(*ProbeImage(ReadImage("exif_orientation_6.jpg"))),
            "JPEG 1800x1200, 3 channels, 8-bit, EXIF orientation 6");
  EXPECT_EQ(DescribeImageHeader(*ProbeImage(ReadImage("variants/chelsea_palette.png"))),
            "PNG 256x170, palette 8-bit");
}

}  // namespace
}  // namespace lmeye
