// PIL's Image.resize for 8-bit RGB, reproduced bit for bit from the algorithm of Pillow's
// src/libImaging/Resample.c: per output pixel, filter weights over a support widened by the
// downscale factor (antialiasing), normalised, turned into 22-bit fixed point with round-half-
// away-from-zero; a horizontal pass over only the rows the vertical pass reads, clipped to uint8,
// then the vertical pass (integer sums are exact in any order, so windows are padded to a
// fixed length and the vertical pass runs as vectorised row loops). NEAREST follows PIL's affine path: source = floor((x + 0.5) * scale).
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

// Resample.c's clip8 (v >> 22 clamped to 0..255), written so the compiler vectorises it.
inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  v = v < 0 ? 0 : v;
  return static_cast<uint8_t>(v > 255 ? 255 : v);
}

// The two hot loops of the vertical pass, built for AVX2 and baseline x86-64 (chosen at load
// time). Integer sums are exact in any order, so vectorising them changes no result. Not under
// ThreadSanitizer: the clones' ifunc resolver runs while the dynamic loader relocates, before
// TSan's runtime exists, and its instrumented code crashes every program at start.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define VLM_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VLM_VECTOR_CLONES
#endif

VLM_VECTOR_CLONES
void accumulate_row(int32_t* __restrict acc, const uint8_t* __restrict src, int32_t w, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += static_cast<int32_t>(src[i]) * w;
}

VLM_VECTOR_CLONES
void clip_row(const int32_t* __restrict acc, uint8_t* __restrict dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = clip8(acc[i]);
}

// Output row yy = sum over taps of input rows (start - row0 + k) of `row_bytes` bytes each.
void vertical_pass(const uint8_t* in, size_t row_bytes, int row0, const Coefficients& c, uint8_t* out) {
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  thread_local std::vector<int32_t> acc;
  acc.resize(row_bytes);
  for (size_t yy = 0; yy < c.start.size(); ++yy) {
    const int32_t* k = &c.weights[yy * static_cast<size_t>(c.ksize)];
    const uint8_t* first = in + static_cast<size_t>(c.start[yy] - row0) * row_bytes;
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int y = 0; y < c.count[yy]; ++y) accumulate_row(acc.data(), first + y * row_bytes, k[y], row_bytes);
    clip_row(acc.data(), out + yy * row_bytes, row_bytes);
  }
}

// Every window made the same length K (the longest), moved left where it would pass the end
// and padded with zero weights, so the horizontal inner loop has a fixed trip count.
struct FixedWindows {
  int taps = 0;
  std::vector<int> start;
  std::vector<int32_t> weights;  // out_size * taps
};

FixedWindows fixed_windows(const Coefficients& c, int in_size) {
  FixedWindows f;
  for (int n : c.count) f.taps = std::max(f.taps, n);
  if (f.taps > in_size) return {};  // cannot happen: count <= in_size; kept as a guard
  const size_t out = c.start.size();
  f.start.resize(out);
  f.weights.assign(out * static_cast<size_t>(f.taps), 0);
  for (size_t i = 0; i < out; ++i) {
    const int start = std::min(c.start[i], in_size - f.taps);
    const int shift = c.start[i] - start;
    f.start[i] = start;
    for (int k = 0; k < c.count[i]; ++k) {
      f.weights[i * static_cast<size_t>(f.taps) + static_cast<size_t>(k + shift)] =
          c.weights[i * static_cast<size_t>(c.ksize) + static_cast<size_t>(k)];
    }
  }
  return f;
}

VLM_VECTOR_CLONES
void multiply_add_row(int32_t* __restrict acc, const uint8_t* __restrict src, const int32_t* __restrict w, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += static_cast<int32_t>(src[i]) * w[i];
}

// Rows [row0, row0 + rows) of `in`, resampled horizontally to out_width into `out`. Per row,
// tap k's source bytes are first gathered into a contiguous row (gathered[k][x * 3 + c] =
// pixel (start[x] + k, channel c)); then each tap is one vectorised multiply-add against the
// weights spread the same way.
void horizontal_pass(const Image& in, int row0, int rows, const Coefficients& c, int out_width, uint8_t* out) {
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  const FixedWindows f = fixed_windows(c, in.width);
  const size_t n = static_cast<size_t>(out_width) * 3;
  thread_local std::vector<int32_t> spread, acc;
  thread_local std::vector<uint8_t> gathered;
  spread.resize(static_cast<size_t>(f.taps) * n);
  gathered.resize(static_cast<size_t>(f.taps) * n);
  acc.resize(n);
  for (int k = 0; k < f.taps; ++k) {
    for (int x = 0; x < out_width; ++x) {
      const int32_t w = f.weights[static_cast<size_t>(x) * f.taps + static_cast<size_t>(k)];
      int32_t* dst = &spread[static_cast<size_t>(k) * n + static_cast<size_t>(x) * 3];
      dst[0] = dst[1] = dst[2] = w;
    }
  }
  for (int yy = 0; yy < rows; ++yy) {
    const uint8_t* src = in.pixel(0, row0 + yy);
    for (int x = 0; x < out_width; ++x) {
      const uint8_t* s = src + static_cast<size_t>(f.start[static_cast<size_t>(x)]) * 3;
      uint8_t* g = &gathered[static_cast<size_t>(x) * 3];
      for (int k = 0; k < f.taps; ++k, s += 3, g += n) std::memcpy(g, s, 3);
    }
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int k = 0; k < f.taps; ++k) {
      multiply_add_row(acc.data(), &gathered[static_cast<size_t>(k) * n], &spread[static_cast<size_t>(k) * n], n);
    }
    clip_row(acc.data(), out + static_cast<size_t>(yy) * n, n);
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
  Image out(width, height);
  if (!need_vertical) {
    horizontal_pass(image, 0, image.height, horiz, width, out.rgb.data());
    return out;
  }
  if (!need_horizontal) {
    vertical_pass(image.rgb.data(), static_cast<size_t>(image.width) * 3, 0, vert, out.rgb.data());
    return out;
  }
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const int first = vert.start.front();
  const int last = vert.start.back() + vert.count.back();
  thread_local std::vector<uint8_t> temp;
  temp.resize(static_cast<size_t>(width) * (last - first) * 3);
  horizontal_pass(image, first, last - first, horiz, width, temp.data());
  vertical_pass(temp.data(), static_cast<size_t>(width) * 3, first, vert, out.rgb.data());
  return out;
}

}  // namespace vlm::data
