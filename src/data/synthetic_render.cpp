// Rendering of synthetic scenes: a textured background (value noise at two scales plus per-pixel
// grain, all from hashes of the seed) and flat-coloured shapes anti-aliased by 4x4 supersampling
// of exact inside tests (circle, square, equilateral triangle, five-pointed star, plus-shaped
// cross). Small enough to write directly; a 2-D graphics library would be a heavy dependency
// for five shapes.
#include <algorithm>
#include <array>
#include <cmath>

#include "data/synthetic.h"
#include "data/synthetic_internal.h"

namespace vlm::data {
namespace {

// Saturated colours that stay apart after downscaling to 32 px and against the dark background.
constexpr std::array<std::array<float, 3>, kNumColors> kPalette = {{
    {220, 40, 40},    // red
    {40, 185, 65},    // green
    {45, 95, 235},    // blue
    {240, 220, 40},   // yellow
    {155, 60, 205},   // purple
    {245, 140, 25},   // orange
    {245, 245, 245},  // white
}};

struct Point {
  float x, y;
};

// Even-odd rule: works for the concave star.
bool inside_polygon(const Point* poly, int n, float x, float y) {
  bool in = false;
  for (int i = 0, j = n - 1; i < n; j = i++) {
    if ((poly[i].y > y) != (poly[j].y > y) &&
        x < (poly[j].x - poly[i].x) * (y - poly[i].y) / (poly[j].y - poly[i].y) + poly[i].x) {
      in = !in;
    }
  }
  return in;
}

// Inside test in units of the circumradius, centred on the object (y down). Every shape lies
// within the unit circle, so objects whose circumcircles are apart never touch.
class ShapeTest {
 public:
  explicit ShapeTest(Shape shape) : shape_(shape) {
    constexpr float kPi = 3.14159265358979f;
    for (int i = 0; i < 3; ++i) {  // apex up
      const float a = -kPi / 2 + static_cast<float>(i) * 2 * kPi / 3;
      triangle_[static_cast<size_t>(i)] = {std::cos(a), std::sin(a)};
    }
    for (int i = 0; i < 10; ++i) {  // alternate outer and inner points, apex up
      const float a = -kPi / 2 + static_cast<float>(i) * kPi / 5;
      const float r = i % 2 == 0 ? 1.0f : 0.45f;
      star_[static_cast<size_t>(i)] = {r * std::cos(a), r * std::sin(a)};
    }
  }
  bool inside(float x, float y) const {
    switch (shape_) {
      case Shape::kCircle: return x * x + y * y <= 0.9f * 0.9f;
      case Shape::kSquare: return std::fabs(x) <= 0.7f && std::fabs(y) <= 0.7f;
      case Shape::kTriangle: return inside_polygon(triangle_.data(), 3, x, y);
      case Shape::kStar: return inside_polygon(star_.data(), 10, x, y);
      case Shape::kCross: {
        const float ax = std::fabs(x), ay = std::fabs(y);
        return (ax <= 0.95f && ay <= 0.28f) || (ax <= 0.28f && ay <= 0.95f);
      }
    }
    return false;
  }

 private:
  Shape shape_;
  std::array<Point, 3> triangle_{};
  std::array<Point, 10> star_{};
};

float hash01(uint64_t seed, int64_t x, int64_t y) {
  return static_cast<float>(mix_seed(seed, static_cast<uint64_t>(x), static_cast<uint64_t>(y)) >> 40) * 0x1.0p-24f;
}

// Smoothly interpolated lattice noise in [0, 1) with `cells` cells across the image.
float value_noise(uint64_t seed, float u, float v, int cells) {
  const float x = u * static_cast<float>(cells), y = v * static_cast<float>(cells);
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  float fx = x - static_cast<float>(x0), fy = y - static_cast<float>(y0);
  fx = fx * fx * (3 - 2 * fx);
  fy = fy * fy * (3 - 2 * fy);
  const float a = hash01(seed, x0, y0), b = hash01(seed, x0 + 1, y0);
  const float c = hash01(seed, x0, y0 + 1), d = hash01(seed, x0 + 1, y0 + 1);
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

void draw_background(Image& image, uint64_t seed) {
  SplitMix rng(seed);
  const float base = rng.uniform(55.0f, 85.0f);
  const std::array<float, 3> tint = {rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(-10, 10)};
  const uint64_t coarse = rng.next(), fine = rng.next(), grain = rng.next();
  const float inv = 1.0f / static_cast<float>(image.width);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      const float u = (static_cast<float>(x) + 0.5f) * inv, v = (static_cast<float>(y) + 0.5f) * inv;
      const float texture = 28.0f * (value_noise(coarse, u, v, 3) - 0.5f) + 14.0f * (value_noise(fine, u, v, 9) - 0.5f) +
                            8.0f * (hash01(grain, x, y) - 0.5f);
      uint8_t* p = image.pixel(x, y);
      for (size_t c = 0; c < 3; ++c) {
        p[c] = static_cast<uint8_t>(std::clamp(base + tint[c] + texture, 0.0f, 255.0f) + 0.5f);
      }
    }
  }
}

void draw_object(Image& image, const SceneObject& o) {
  constexpr int kSub = 4;  // 4x4 samples per pixel
  const ShapeTest test(o.shape);
  const float side = static_cast<float>(image.width);
  const float cx = o.cx * side, cy = o.cy * side, r = o.radius * side;
  const int x0 = std::max(0, static_cast<int>(std::floor(cx - r))), x1 = std::min(image.width - 1, static_cast<int>(cx + r));
  const int y0 = std::max(0, static_cast<int>(std::floor(cy - r))), y1 = std::min(image.height - 1, static_cast<int>(cy + r));
  const auto& color = kPalette[static_cast<size_t>(o.color)];
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < kSub; ++sy) {
        for (int sx = 0; sx < kSub; ++sx) {
          const float px = static_cast<float>(x) + (static_cast<float>(sx) + 0.5f) / kSub;
          const float py = static_cast<float>(y) + (static_cast<float>(sy) + 0.5f) / kSub;
          hits += test.inside((px - cx) / r, (py - cy) / r) ? 1 : 0;
        }
      }
      if (hits == 0) continue;
      const float a = static_cast<float>(hits) / (kSub * kSub);
      uint8_t* p = image.pixel(x, y);
      for (size_t c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(static_cast<float>(p[c]) * (1 - a) + color[c] * a + 0.5f);
    }
  }
}

}  // namespace

Image render_scene(const std::vector<SceneObject>& objects, int size, uint64_t background_seed) {
  if (size < 1 || size > 4096) throw Error(str("render_scene: size must be 1..4096, got ", size));
  Image image(size, size);
  draw_background(image, background_seed);
  for (const SceneObject& o : objects) draw_object(image, o);
  return image;
}

}  // namespace vlm::data
