// The similarity grid (cell colours, true-pair borders, size), the canvas font, chart ticks,
// SVG and PNG charts.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/canvas.h"
#include "eval/grid.h"
#include "eval/plots.h"

namespace vlm::eval {
namespace {

Rgb at(const data::Image& img, int x, int y) {
  const uint8_t* p = img.pixel(x, y);
  return {p[0], p[1], p[2]};
}

data::Image solid(int w, int h, Rgb c) {
  Canvas canvas(w, h, c);
  return canvas.image();
}

TEST(Grid, CellsColouredAndTruePairsOutlined) {
  const std::vector<data::Image> images = {solid(30, 20, {255, 0, 0}), solid(20, 30, {0, 0, 255})};
  // 2 images x 3 captions; captions 0, 1 -> image 0, caption 2 -> image 1.
  const std::vector<float> sim = {0.9f, 0.5f, 0.1f,   // image 0 vs t0, t1, t2
                                  0.2f, 0.3f, 0.7f};  // image 1
  const std::vector<int64_t> map = {0, 0, 1};
  GridOptions opt{.cell = 40, .show_values = false};
  const data::Image g = render_similarity_grid(images, sim, 3, map, opt);
  // Layout as grid.cpp: label column, then 2 cells; thumbnails row of height cell + 12.
  const int scale = 1, label_w = Canvas::text_width("T000", scale) + 16, top = 40 + 12;
  EXPECT_EQ(g.height, top + 3 * 40 + 8);
  auto cell_centre = [&](int i, int t) { return at(g, label_w + i * 40 + 20, top + t * 40 + 20); };
  EXPECT_EQ(cell_centre(0, 0), viridis(1.0));  // the maximum 0.9
  EXPECT_EQ(cell_centre(0, 2), viridis(0.0));  // the minimum 0.1
  EXPECT_EQ(cell_centre(1, 1), viridis((double{0.3f} - double{0.1f}) / double{0.9f - 0.1f}));
  const Rgb border = {230, 30, 60};
  EXPECT_EQ(at(g, label_w + 0 * 40, top + 1 * 40 + 20), border);   // (image 0, t1) is a true pair
  EXPECT_EQ(at(g, label_w + 1 * 40 + 1, top + 2 * 40 + 20), border);  // (image 1, t2)
  EXPECT_NE(at(g, label_w + 1 * 40, top + 0 * 40 + 20), border);   // (image 1, t0) is not
  // Thumbnail of image 0 (red) centred in its column.
  EXPECT_EQ(at(g, label_w + 20, 4 + 18), (Rgb{255, 0, 0}));
  EXPECT_THROW(render_similarity_grid(images, sim, 2, map, opt), Error);
  EXPECT_THROW(render_similarity_grid({}, sim, 3, map, opt), Error);
}

TEST(Canvas, FontDrawsGlyphPixels) {
  Canvas c(20, 10, {0, 0, 0});
  c.text(0, 0, "1", 1, {255, 255, 255});
  // '1' row 0 is "..#..": only column 2 lit; row 6 is ".###.".
  EXPECT_EQ(at(c.image(), 2, 0), (Rgb{255, 255, 255}));
  EXPECT_EQ(at(c.image(), 1, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(at(c.image(), 1, 6), (Rgb{255, 255, 255}));
  EXPECT_EQ(Canvas::text_width("abc", 2), 34);
}

TEST(Plots, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const auto t = nice_ticks(1, 60, 6);
  EXPECT_EQ(t.front(), 0);
  EXPECT_GE(t.back(), 60);
  EXPECT_EQ(t[1] - t[0], 10);
}

TEST(Plots, SvgAndPngCharts) {
  Series a{"train/loss", {{1, 2.0}, {2, 1.5}, {3, 1.2}}};
  Series b{"val/loss", {{2, 1.7}}};
  const std::string svg = line_chart_svg("Loss <&>", {a, b});
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);  // single-point series drawn as a dot
  EXPECT_NE(svg.find("val/loss"), std::string::npos);
  const data::Image png = line_chart_png("loss", {a});
  EXPECT_EQ(png.width, 640);
  EXPECT_EQ(png.height, 320);
  int coloured = 0;  // the line is drawn in the first palette colour
  for (int y = 0; y < png.height; ++y) {
    for (int x = 0; x < png.width; ++x) coloured += at(png, x, y) == Rgb{31, 119, 180};
  }
  EXPECT_GT(coloured, 500);
}

}  // namespace
}  // namespace vlm::eval
