// PIL's Image.resize for 8-bit RGB, reproduced bit for bit from the algorithm of Pillow's
// src/libImaging/Resample.c: per output pixel, filter weights over a support widened by the
// downscale factor (antialiasing), normalised, turned into 22-bit fixed point with round-half-
// away-from-zero; a horizontal pass over only the rows the vertical pass reads, clipped to uint8,
// then the vertical pass. NEAREST follows PIL's affine path: source = floor((x + 0.5) * scale).
// Not a library call: no C++ image library reproduces PIL's coefficients, and HF models were
// trained on PIL's output.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "data/preprocess.h"

namespace vlm::data {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // as Resample.c: room for 8-bit values and sums

struct Filter {
  double (*weight)(double);
  double support;
};

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double hamming_filter(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= M_PI;
  return std::sin(x) / x * (0.54 + 0.46 * std::cos(x));
}

double bicubic_filter(double x) {  // Keys' cubic with a = -0.5
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) { return (x > -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

Filter filter_for(Resample resample) {
  switch (resample) {
    case Resample::kBox: return {box_filter, 0.5};
    case Resample::kBilinear: return {bilinear_filter, 1.0};
    case Resample::kHamming: return {hamming_filter, 1.0};
    case Resample::kBicubic: return {bicubic_filter, 2.0};
    case Resample::kLanczos: return {lanczos_filter, 3.0};
    case Resample::kNearest: break;
  }
  throw Error("resize: nearest has no convolution filter");
}

// Fixed-point weights for one axis: output pixel i reads input [start[i], start[i] + count[i]).
struct Coefficients {
  int ksize = 0;
  std::vector<int> start;
  std::vector<int> count;
  std::vector<int32_t> weights;  // out_size * ksize
};

Coefficients precompute(int in_size, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.start.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(static_cast<size_t>(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[static_cast<size_t>(x)] = filter.weight((x + xmin - center + 0.5) * ss);
      total += w[static_cast<size_t>(x)];
    }
    int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = total != 0.0 ? w[static_cast<size_t>(x)] / total : w[static_cast<size_t>(x)];
      k[x] = static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.start[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// Rows [row0, row0 + out.height) of `in`, resampled horizontally into `out`.
void horizontal_pass(const Image& in, int row0, const Coefficients& c, Image& out) {
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  for (int yy = 0; yy < out.height; ++yy) {
    const uint8_t* src = in.pixel(0, yy + row0);
    uint8_t* dst = out.pixel(0, yy);
    for (int xx = 0; xx < out.width; ++xx) {
      const int32_t* k = &c.weights[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* s = src + static_cast<size_t>(c.start[static_cast<size_t>(xx)]) * 3;
      int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      for (int x = 0, n = c.count[static_cast<size_t>(xx)]; x < n; ++x, s += 3) {
        s0 += s[0] * k[x];
        s1 += s[1] * k[x];
        s2 += s[2] * k[x];
      }
      dst[xx * 3 + 0] = clip8(s0);
      dst[xx * 3 + 1] = clip8(s1);
      dst[xx * 3 + 2] = clip8(s2);
    }
  }
}

// Vertical resampling; `row0` is subtracted from the coefficients' start rows (the horizontal
// pass kept only the rows from row0 on).
void vertical_pass(const Image& in, int row0, const Coefficients& c, Image& out) {
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  const size_t row_bytes = static_cast<size_t>(in.width) * 3;
  std::vector<int32_t> acc(row_bytes);
  for (int yy = 0; yy < out.height; ++yy) {
    const int32_t* k = &c.weights[static_cast<size_t>(yy) * c.ksize];
    const int start = c.start[static_cast<size_t>(yy)] - row0;
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int y = 0, n = c.count[static_cast<size_t>(yy)]; y < n; ++y) {
      const uint8_t* src = in.pixel(0, start + y);
      const int32_t w = k[y];
      for (size_t i = 0; i < row_bytes; ++i) acc[i] += src[i] * w;  // same sums, row order
    }
    uint8_t* dst = out.pixel(0, yy);
    for (size_t i = 0; i < row_bytes; ++i) dst[i] = clip8(acc[i]);
  }
}

Image resize_nearest(const Image& in, int width, int height) {
  // PIL's ImagingScaleAffine: the source coordinate is accumulated (xo += scale), then floored.
  const double sx = static_cast<double>(in.width) / width, sy = static_cast<double>(in.height) / height;
  std::vector<int> src_x(static_cast<size_t>(width));
  double xo = sx * 0.5;
  for (int x = 0; x < width; ++x, xo += sx) src_x[static_cast<size_t>(x)] = std::min(static_cast<int>(xo), in.width - 1);
  Image out(width, height);
  double yo = sy * 0.5;
  for (int y = 0; y < height; ++y, yo += sy) {
    const int src_y = std::min(static_cast<int>(yo), in.height - 1);
    for (int x = 0; x < width; ++x) std::memcpy(out.pixel(x, y), in.pixel(src_x[static_cast<size_t>(x)], src_y), 3);
  }
  return out;
}

}  // namespace

Image resize_image(const Image& image, int width, int height, Resample resample) {
  if (width <= 0 || height <= 0) throw Error(str("resize: target size must be positive, got ", width, "x", height));
  if (image.empty()) throw Error("resize: empty image");
  if (width == image.width && height == image.height) return image;  // PIL returns a copy
  if (resample == Resample::kNearest) return resize_nearest(image, width, height);
  const Filter filter = filter_for(resample);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  const Coefficients horiz = precompute(image.width, width, filter);
  const Coefficients vert = precompute(image.height, height, filter);
  if (!need_vertical) {
    Image out(width, height);
    horizontal_pass(image, 0, horiz, out);
    return out;
  }
  if (!need_horizontal) {
    Image out(width, height);
    vertical_pass(image, 0, vert, out);
    return out;
  }
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int first = vert.start.front();
  const int last = vert.start.back() + vert.count.back();
  Image temp(width, last - first);
  horizontal_pass(image, first, horiz, temp);
  Image out(width, height);
  vertical_pass(temp, first, vert, out);
  return out;
}

}  // namespace vlm::data
