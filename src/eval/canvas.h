// A tiny RGB canvas for the evaluation pictures (similarity grid, curve PNGs): filled and
// outlined rectangles, thick lines and a built-in 5x7 bitmap font. Hand-written: the pictures
// need digits and short ASCII labels only, which no font or drawing library is worth adding for.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "data/image.h"

namespace vlm::eval {

using Rgb = std::array<uint8_t, 3>;

class Canvas {
 public:
  Canvas(int width, int height, Rgb background);
  data::Image& image() { return image_; }
  const data::Image& image() const { return image_; }

  void fill_rect(int x, int y, int w, int h, Rgb color);
  // A border of `thickness` pixels inside the rectangle.
  void outline_rect(int x, int y, int w, int h, int thickness, Rgb color);
  // A line of about `thickness` pixels between two points (clipped to the canvas).
  void line(double x0, double y0, double x1, double y1, int thickness, Rgb color);
  // Copies an image with its top-left corner at (x, y), clipped.
  void blit(const data::Image& src, int x, int y);
  // ASCII text in the 5x7 font, each glyph scaled by `scale` (6 * scale pixels per character,
  // 7 * scale tall); lower case is drawn as upper case, unknown characters as '?'.
  void text(int x, int y, std::string_view s, int scale, Rgb color);
  static int text_width(std::string_view s, int scale) { return static_cast<int>(s.size()) * 6 * scale - scale; }
  static int text_height(int scale) { return 7 * scale; }

 private:
  void put(int x, int y, Rgb color);
  data::Image image_;
};

// A perceptually ordered colormap (viridis, by its 9 anchor colours), t in [0, 1].
Rgb viridis(double t);

}  // namespace vlm::eval
