#include "model/vision/image_resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace lmeye {
namespace {

// Fixed-point weights: 32 bits minus 8 for the pixel minus 2 of headroom for kernel overshoot
// (PRECISION_BITS in Pillow's Resample.c).
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double (*fn)(double);
  double support;
};

// The kernels verbatim from Pillow's Resample.c (including its a = -0.5 bicubic).
double BoxFilter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double BilinearFilter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingFilter(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * M_PI;
  return std::sin(x) / x * (0.54 + 0.46 * std::cos(x));
}

double BicubicFilter(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double LanczosFilter(double x) { return (-3.0 <= x && x < 3.0) ? Sinc(x) * Sinc(x / 3) : 0.0; }

// Taps of output pixels [first, first + count) along one axis, in Pillow's fixed point.
struct Taps {
  int ksize = 0;
  std::vector<int> start;       // first source index per output pixel
  std::vector<int> n;           // number of taps per output pixel
  std::vector<int32_t> weight;  // [count, ksize]
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc, for a sub-range of output pixels.
Taps PrecomputeTaps(int in_size, int out_size, const Filter& filter, int first, int count) {
  // Pillow computes (double)(box[2] - box[0]) with float box coordinates: exact for our sizes.
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  Taps taps;
  taps.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.start.resize(count);
  taps.n.resize(count);
  taps.weight.assign(static_cast<size_t>(count) * taps.ksize, 0);
  std::vector<double> k(taps.ksize);
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // (int) truncates toward zero, as in C; negatives are clamped to 0 right after anyway.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = filter.fn((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    int32_t* w = &taps.weight[static_cast<size_t>(i) * taps.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? k[x] / ww : k[x];
      // Round half away from zero, as normalize_coeffs_8bpc does.
      w[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    taps.start[i] = xmin;
    taps.n[i] = std::max(xmax, 0);
  }
  return taps;
}

// Pillow's clip8: the accumulator started at 2^(bits-1), so the shift rounds to nearest.
inline uint8_t Clip8(int32_t v) {
  const int32_t shifted = v >> kPrecisionBits;  // arithmetic shift: floor for negatives
  return static_cast<uint8_t>(std::clamp(shifted, 0, 255));
}

// out(y, i) = sum_t src(y + row_offset, start[i] + t) * w[i][t] for every row of `out`.
// kChannels is a template argument so the per-channel accumulators live in registers.
template <int kChannels>
void ResampleRows(const cv::Mat& src, int row_offset, const Taps& taps, cv::Mat& out) {
  for (int y = 0; y < out.rows; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(y + row_offset);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int i = 0; i < out.cols; ++i) {
      const int32_t* w = &taps.weight[static_cast<size_t>(i) * taps.ksize];
      const uint8_t* p = in + static_cast<size_t>(taps.start[i]) * kChannels;
      int32_t ss[kChannels];
      for (int c = 0; c < kChannels; ++c) ss[c] = 1 << (kPrecisionBits - 1);
      for (int t = 0; t < taps.n[i]; ++t) {
        for (int c = 0; c < kChannels; ++c) ss[c] += p[t * kChannels + c] * w[t];
      }
      for (int c = 0; c < kChannels; ++c) o[i * kChannels + c] = Clip8(ss[c]);
    }
  }
}

// out(j, x) = sum_t src(start[j] - row_offset + t, x + col_offset) * w[j][t]. Accumulates whole
// rows at a time (contiguous, vectorisable) rather than walking down columns.
void ResampleColumns(const cv::Mat& src, int row_offset, int col_offset, const Taps& taps,
                     cv::Mat& out) {
  const int channels = src.channels();
  const int n = out.cols * channels;
  std::vector<int32_t> ss(n);
  for (int j = 0; j < out.rows; ++j) {
    const int32_t* w = &taps.weight[static_cast<size_t>(j) * taps.ksize];
    std::fill(ss.begin(), ss.end(), 1 << (kPrecisionBits - 1));
    for (int t = 0; t < taps.n[j]; ++t) {
      const uint8_t* row = src.ptr<uint8_t>(taps.start[j] - row_offset + t) +
                           static_cast<size_t>(col_offset) * channels;
      const int32_t wt = w[t];
      for (int x = 0; x < n; ++x) ss[x] += row[x] * wt;
    }
    uint8_t* o = out.ptr<uint8_t>(j);
    for (int x = 0; x < n; ++x) o[x] = Clip8(ss[x]);
  }
}

absl::StatusOr<Filter> FilterFor(ResampleFilter filter) {
  switch (filter) {
    case ResampleFilter::kBox:
      return Filter{BoxFilter, 0.5};
    case ResampleFilter::kBilinear:
      return Filter{BilinearFilter, 1.0};
    case ResampleFilter::kHamming:
      return Filter{HammingFilter, 1.0};
    case ResampleFilter::kBicubic:
      return Filter{BicubicFilter, 2.0};
    case ResampleFilter::kLanczos:
      return Filter{LanczosFilter, 3.0};
    case ResampleFilter::kNearest:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("resample filter ", static_cast<int>(filter),
                   " is not supported (PIL NEAREST is an affine transform, not a convolution)"));
}

}  // namespace

absl::StatusOr<cv::Mat> ResizeLikePil(const cv::Mat& src, cv::Size out_size, ResampleFilter filter,
                                      cv::Rect roi) {
  if (src.type() != CV_8UC1 && src.type() != CV_8UC3) {
    return absl::InvalidArgumentError(
        absl::StrCat("ResizeLikePil needs CV_8UC1 or CV_8UC3, got type ", src.type()));
  }
  if (src.empty() || out_size.width <= 0 || out_size.height <= 0 || roi.empty()) {
    return absl::InvalidArgumentError("ResizeLikePil: empty input, output or region");
  }
  if ((roi & cv::Rect(cv::Point(0, 0), out_size)) != roi) {
    return absl::InvalidArgumentError("ResizeLikePil: region outside the output image");
  }
  auto f = FilterFor(filter);
  if (!f.ok()) return f.status();

  const bool need_horizontal = out_size.width != src.cols;
  const bool need_vertical = out_size.height != src.rows;

  // Source rows the vertical pass reads for output rows roi.y .. roi.y + roi.height.
  Taps vertical;
  int row_first = roi.y, row_last = roi.y + roi.height;
  if (need_vertical) {
    vertical = PrecomputeTaps(src.rows, out_size.height, *f, roi.y, roi.height);
    row_first = vertical.start.front();
    row_last = vertical.start.back() + vertical.n.back();
    for (int j = 0; j < roi.height; ++j) {
      row_first = std::min(row_first, vertical.start[j]);
      row_last = std::max(row_last, vertical.start[j] + vertical.n[j]);
    }
  }

  // Horizontal pass into an 8-bit intermediate of those rows, only the roi's columns.
  cv::Mat horizontal;
  int col_offset = 0;
  if (need_horizontal) {
    const Taps taps = PrecomputeTaps(src.cols, out_size.width, *f, roi.x, roi.width);
    horizontal.create(row_last - row_first, roi.width, src.type());
    if (src.channels() == 3) {
      ResampleRows<3>(src, row_first, taps, horizontal);
    } else {
      ResampleRows<1>(src, row_first, taps, horizontal);
    }
  } else {
    horizontal = src.rowRange(row_first, row_last);
    col_offset = roi.x;
  }
  if (!need_vertical) {
    return horizontal.colRange(col_offset, col_offset + roi.width).clone();
  }
  cv::Mat out(roi.height, roi.width, src.type());
  ResampleColumns(horizontal, row_first, col_offset, vertical, out);
  return out;
}

absl::StatusOr<cv::Mat> ResizeLikePil(const cv::Mat& src, cv::Size out_size,
                                      ResampleFilter filter) {
  return ResizeLikePil(src, out_size, filter, cv::Rect(cv::Point(0, 0), out_size));
}

}  // namespace lmeye
