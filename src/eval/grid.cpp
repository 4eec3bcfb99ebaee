// Similarity grid rendering (eval/grid.h) on the small canvas of eval/canvas.h; PNG through
// data/image.h's encoder. Colours span the matrix's own min..max so small differences show.
#include "eval/grid.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "data/preprocess.h"
#include "eval/canvas.h"

namespace vlm::eval {
namespace {

constexpr Rgb kBackground = {255, 255, 255};
constexpr Rgb kInk = {40, 40, 40};
constexpr Rgb kMatch = {230, 30, 60};

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

data::Image render_similarity_grid(const std::vector<data::Image>& images, std::span<const float> similarity,
                                   int64_t num_texts, std::span<const int64_t> text_to_image,
                                   const GridOptions& options) {
  const auto ni = static_cast<int64_t>(images.size());
  if (ni == 0 || num_texts <= 0) throw Error("similarity grid: need at least one image and one caption");
  if (static_cast<int64_t>(similarity.size()) != ni * num_texts) {
    throw Error(str("similarity grid: ", similarity.size(), " similarities for ", ni, " images x ", num_texts,
                    " captions"));
  }
  if (static_cast<int64_t>(text_to_image.size()) != num_texts) {
    throw Error(str("similarity grid: ", text_to_image.size(), " caption->image entries for ", num_texts, " captions"));
  }
  if (ni > 512 || num_texts > 512) throw Error("similarity grid: at most 512 x 512 cells (pick a subset)");
  const int cell = std::max(24, options.cell);
  const int scale = cell >= 48 ? 2 : 1;
  const int label_w = Canvas::text_width("T000", scale) + 16;
  const int top = cell + 12;
  const int bar_w = 16, bar_gap = 14, bar_label_w = Canvas::text_width("-0.00", scale) + 8;
  const int width = label_w + static_cast<int>(ni) * cell + bar_gap + bar_w + bar_label_w + 8;
  const int height = top + static_cast<int>(num_texts) * cell + 8;
  Canvas canvas(width, height, kBackground);

  float lo = similarity[0], hi = similarity[0];
  for (float s : similarity) {
    if (!std::isfinite(s)) throw Error("similarity grid: non-finite similarity");
    lo = std::min(lo, s), hi = std::max(hi, s);
  }
  const double range = hi > lo ? hi - lo : 1.0;

  for (int64_t i = 0; i < ni; ++i) {  // thumbnails along the top, aspect kept, centred
    const data::Image& img = images[static_cast<size_t>(i)];
    if (img.empty()) continue;
    const double k = static_cast<double>(cell - 4) / std::max(img.width, img.height);
    const int w = std::max(1, static_cast<int>(std::lround(img.width * k)));
    const int h = std::max(1, static_cast<int>(std::lround(img.height * k)));
    const data::Image thumb = data::resize_image(img, w, h);
    canvas.blit(thumb, label_w + static_cast<int>(i) * cell + (cell - w) / 2, 4 + (cell - 4 - h) / 2);
  }
  for (int64_t t = 0; t < num_texts; ++t) {
    const int y = top + static_cast<int>(t) * cell;
    const std::string label = str("T", t);
    canvas.text(label_w - 8 - Canvas::text_width(label, scale), y + (cell - Canvas::text_height(scale)) / 2, label,
                scale, kInk);
    for (int64_t i = 0; i < ni; ++i) {
      const int x = label_w + static_cast<int>(i) * cell;
      const double v = similarity[static_cast<size_t>(i * num_texts + t)];
      const double u = (v - lo) / range;
      canvas.fill_rect(x, y, cell, cell, viridis(u));
      if (options.show_values) {
        const std::string s = fixed2(v);
        const int ts = Canvas::text_width(s, 1) <= cell - 6 ? 1 : 0;
        if (ts > 0) {
          canvas.text(x + (cell - Canvas::text_width(s, 1)) / 2, y + (cell - 7) / 2, s, 1,
                      u > 0.6 ? Rgb{20, 20, 20} : Rgb{250, 250, 250});
        }
      }
      if (text_to_image[t] == i) canvas.outline_rect(x, y, cell, cell, std::max(2, cell / 16), kMatch);
    }
  }
  // Colour bar with its end values.
  const int bx = label_w + static_cast<int>(ni) * cell + bar_gap;
  const int bh = static_cast<int>(num_texts) * cell;
  for (int y = 0; y < bh; ++y) canvas.fill_rect(bx, top + y, bar_w, 1, viridis(1.0 - static_cast<double>(y) / std::max(1, bh - 1)));
  canvas.text(bx + bar_w + 4, top, fixed2(hi), scale, kInk);
  canvas.text(bx + bar_w + 4, top + bh - Canvas::text_height(scale), fixed2(lo), scale, kInk);
  return canvas.image();
}

void write_similarity_grid(const std::string& path, const std::vector<data::Image>& images,
                           std::span<const float> similarity, int64_t num_texts,
                           std::span<const int64_t> text_to_image, const GridOptions& options) {
  data::write_png(path, render_similarity_grid(images, similarity, num_texts, text_to_image, options));
}

}  // namespace vlm::eval
