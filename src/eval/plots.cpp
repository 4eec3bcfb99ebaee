// SVG and PNG line charts (eval/plots.h): shared layout (ranges, nice ticks, colours), two
// back ends. The palette is Tableau's 10 colours, readable on white.
#include "eval/plots.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "eval/canvas.h"
#include "eval/html.h"

namespace vlm::eval {
namespace {

constexpr std::array<Rgb, 6> kPalette = {{{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                          {148, 103, 189}, {140, 86, 75}}};

std::string fmt(double v) {
  char buf[32];
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e5)) {
    std::snprintf(buf, sizeof buf, "%.1e", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

// Data ranges and the mapping into a plot rectangle.
struct Layout {
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // data range
  double left = 0, top = 0, right = 0, bottom = 0;  // pixel rectangle
  std::vector<double> xticks, yticks;
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
  double py(double y) const { return bottom - (y - y0) / (y1 - y0) * (bottom - top); }
};

Layout layout(const std::vector<Series>& series, double left, double top, double right, double bottom) {
  Layout l{.left = left, .top = top, .right = right, .bottom = bottom};
  bool any = false;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (!any) l.x0 = l.x1 = x, l.y0 = l.y1 = y, any = true;
      l.x0 = std::min(l.x0, x), l.x1 = std::max(l.x1, x), l.y0 = std::min(l.y0, y), l.y1 = std::max(l.y1, y);
    }
  }
  if (l.x1 == l.x0) l.x0 -= 1, l.x1 += 1;
  if (l.y1 == l.y0) {
    const double pad = l.y0 == 0 ? 1 : std::abs(l.y0) * 0.1;
    l.y0 -= pad, l.y1 += pad;
  }
  l.xticks = nice_ticks(l.x0, l.x1, 6);
  l.yticks = nice_ticks(l.y0, l.y1, 5);
  l.y0 = std::min(l.y0, l.yticks.front()), l.y1 = std::max(l.y1, l.yticks.back());
  return l;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo, lo + 1};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; t <= hi + step * 0.5 && ticks.size() < 50; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string line_chart_svg(const std::string& title, const std::vector<Series>& series, int width, int height) {
  const Layout l = layout(series, 64, 34, width - 16, height - 40);
  std::string svg = str("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 ", width, " ", height,
                        "\" width=\"", width, "\" height=\"", height, "\" role=\"img\" aria-label=\"",
                        html_escape(title), "\">\n");
  svg += str("<text x=\"", l.left, "\" y=\"20\" class=\"title\">", html_escape(title), "</text>\n");
  for (double t : l.yticks) {
    if (t < l.y0 || t > l.y1) continue;
    svg += str("<line x1=\"", l.left, "\" x2=\"", l.right, "\" y1=\"", l.py(t), "\" y2=\"", l.py(t),
               "\" class=\"grid\"/><text x=\"", l.left - 6, "\" y=\"", l.py(t) + 4, "\" class=\"ytick\">", fmt(t),
               "</text>\n");
  }
  for (double t : l.xticks) {
    if (t < l.x0 || t > l.x1) continue;
    svg += str("<line x1=\"", l.px(t), "\" x2=\"", l.px(t), "\" y1=\"", l.bottom, "\" y2=\"", l.bottom + 4,
               "\" class=\"axis\"/><text x=\"", l.px(t), "\" y=\"", l.bottom + 18, "\" class=\"xtick\">", fmt(t),
               "</text>\n");
  }
  svg += str("<rect x=\"", l.left, "\" y=\"", l.top, "\" width=\"", l.right - l.left, "\" height=\"",
             l.bottom - l.top, "\" class=\"frame\"/>\n");
  svg += str("<text x=\"", (l.left + l.right) / 2, "\" y=\"", height - 6, "\" class=\"xlabel\">step</text>\n");
  double legend_x = l.right;
  for (size_t k = series.size(); k-- > 0;) {  // legend right-aligned in the title row
    const std::string name = html_escape(series[k].name);
    legend_x -= 14 + 7.0 * static_cast<double>(series[k].name.size()) + 12;
    svg += str("<rect x=\"", legend_x, "\" y=\"11\" width=\"10\" height=\"10\" fill=\"", hex(kPalette[k % kPalette.size()]),
               "\"/><text x=\"", legend_x + 14, "\" y=\"20\" class=\"legend\">", name, "</text>\n");
  }
  for (size_t k = 0; k < series.size(); ++k) {
    std::string pts;
    for (const auto& [x, y] : series[k].points) {
      if (std::isfinite(x) && std::isfinite(y)) pts += str(l.px(x), ",", l.py(y), " ");
    }
    if (pts.empty()) continue;
    const std::string color = hex(kPalette[k % kPalette.size()]);
    svg += str("<polyline fill=\"none\" stroke=\"", color, "\" stroke-width=\"2\" points=\"", pts, "\"/>\n");
    if (series[k].points.size() == 1) {
      svg += str("<circle r=\"3\" fill=\"", color, "\" cx=\"", l.px(series[k].points[0].first), "\" cy=\"",
                 l.py(series[k].points[0].second), "\"/>\n");
    }
  }
  return svg + "</svg>\n";
}

data::Image line_chart_png(const std::string& title, const std::vector<Series>& series, int width, int height) {
  const Rgb ink = {50, 50, 50}, grid = {225, 225, 225};
  Canvas c(width, height, {255, 255, 255});
  const Layout l = layout(series, 80, 40, width - 20, height - 40);
  c.text(static_cast<int>(l.left), 12, title, 2, ink);
  for (double t : l.yticks) {
    if (t < l.y0 || t > l.y1) continue;
    const int y = static_cast<int>(std::lround(l.py(t)));
    c.fill_rect(static_cast<int>(l.left), y, static_cast<int>(l.right - l.left), 1, grid);
    const std::string s = fmt(t);
    c.text(static_cast<int>(l.left) - 6 - Canvas::text_width(s, 1), y - 3, s, 1, ink);
  }
  for (double t : l.xticks) {
    if (t < l.x0 || t > l.x1) continue;
    const int x = static_cast<int>(std::lround(l.px(t)));
    c.fill_rect(x, static_cast<int>(l.bottom), 1, 4, ink);
    const std::string s = fmt(t);
    c.text(x - Canvas::text_width(s, 1) / 2, static_cast<int>(l.bottom) + 8, s, 1, ink);
  }
  c.outline_rect(static_cast<int>(l.left), static_cast<int>(l.top), static_cast<int>(l.right - l.left) + 1,
                 static_cast<int>(l.bottom - l.top) + 1, 1, ink);
  c.text(static_cast<int>((l.left + l.right) / 2) - Canvas::text_width("STEP", 1) / 2, height - 14, "STEP", 1, ink);
  for (size_t k = 0; k < series.size(); ++k) {
    const Rgb color = kPalette[k % kPalette.size()];
    const auto& p = series[k].points;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p.size() == 1) c.fill_rect(static_cast<int>(l.px(p[0].first)) - 2, static_cast<int>(l.py(p[0].second)) - 2, 5, 5, color);
      if (i == 0 || !std::isfinite(p[i - 1].second) || !std::isfinite(p[i].second)) continue;
      c.line(l.px(p[i - 1].first), l.py(p[i - 1].second), l.px(p[i].first), l.py(p[i].second), 2, color);
    }
  }
  return c.image();
}

}  // namespace vlm::eval
