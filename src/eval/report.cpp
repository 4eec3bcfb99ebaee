// The self-contained HTML run report (eval/report.h): config, curves (inline SVG; PNGs into
// plots/), retrieval table and grid, caption metrics, and a captions gallery with inlined
// thumbnails. HTML is assembled as text: a page this size needs no template engine.
#include "eval/report.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "data/image.h"
#include "data/preprocess.h"
#include "eval/html.h"
#include "eval/plots.h"
#include "eval/run_files.h"
#include "io/atomic_file.h"

namespace vlm::eval {
namespace {
namespace fs = std::filesystem;

std::string base64(const std::vector<uint8_t>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = bytes[i], b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0, b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const uint32_t v = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::string png_data_uri(const std::vector<uint8_t>& png) { return "data:image/png;base64," + base64(png); }

std::string absent(const std::string& what, const std::string& path) {
  return str("<p class=\"absent\">No ", html_escape(what), " in this run (", html_escape(path), " is absent).</p>\n");
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", fraction * 100.0);
  return buf;
}

std::string number(double v, const char* format = "%.4f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct Chart {
  std::string title;
  std::string file;  // plots/<file>.png stem
  std::vector<Series> series;
};

std::string file_stem(const std::string& key) {
  std::string out;
  for (char c : key) out += std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
  return out;
}

// Curves grouped into charts: losses together, learning rates together, recalls together,
// every other scalar on its own.
std::vector<Chart> group_curves(const std::vector<run_files::MetricsRow>& rows) {
  std::map<std::string, Series> by_key;
  for (const auto& row : rows) {
    for (const auto& [key, value] : row.values) {
      by_key[key].name = key;
      by_key[key].points.emplace_back(static_cast<double>(row.step), value);
    }
  }
  std::vector<Chart> charts = {{"Loss", "loss", {}}, {"Learning rate", "lr", {}}, {"Retrieval recall", "recall", {}}};
  std::vector<Chart> singles;
  for (auto& [key, series] : by_key) {
    std::sort(series.points.begin(), series.points.end());
    const bool is_lr = key == "lr" || key.rfind("lr", 0) == 0 || key.find("/lr") != std::string::npos;
    if (key.find("loss") != std::string::npos) {
      charts[0].series.push_back(series);
    } else if (is_lr) {
      charts[1].series.push_back(series);
    } else if (key.find("R@") != std::string::npos) {
      charts[2].series.push_back(series);
    } else {
      singles.push_back({key, file_stem(key), {series}});
    }
  }
  charts.insert(charts.end(), singles.begin(), singles.end());
  charts.erase(std::remove_if(charts.begin(), charts.end(), [](const Chart& c) { return c.series.empty(); }), charts.end());
  return charts;
}

std::string curves_section(const std::string& run_dir) {
  const std::string path = run_files::metrics_path(run_dir);
  std::string html = "<section id=\"curves\"><h2>Training curves</h2>\n";
  if (!fs::exists(path)) return html + absent("metrics log", path) + "</section>\n";
  const auto charts = group_curves(run_files::read_metrics(path));
  if (charts.empty()) return html + "<p class=\"absent\">metrics.jsonl holds no scalar values yet.</p></section>\n";
  html += "<div class=\"charts\">\n";
  for (const Chart& c : charts) html += "<figure>" + line_chart_svg(c.title, c.series, /*width=*/530, /*height=*/280) + "</figure>\n";
  return html + "</div></section>\n";
}

std::string retrieval_section(const std::string& run_dir) {
  std::string html = "<section id=\"retrieval\"><h2>Retrieval</h2>\n";
  const std::string path = run_files::retrieval_path(run_dir);
  if (fs::exists(path)) {
    const RetrievalMetrics m = run_files::read_retrieval(path);
    html += str("<p>", m.num_images, " images, ", m.num_texts,
                " captions; recall in percent, ranks 1-based, ties counted against the model.</p>\n");
    html += "<table class=\"metrics\"><tr><th>direction</th><th>R@1</th><th>R@5</th><th>R@10</th>"
            "<th>median rank</th><th>mean rank</th></tr>\n";
    html += str("<tr><td>image &rarr; text</td><td>", percent(m.i2t_r1), "</td><td>", percent(m.i2t_r5), "</td><td>",
                percent(m.i2t_r10), "</td><td>", number(m.i2t_median_rank, "%.1f"), "</td><td>",
                number(m.i2t_mean_rank, "%.2f"), "</td></tr>\n");
    html += str("<tr><td>text &rarr; image</td><td>", percent(m.t2i_r1), "</td><td>", percent(m.t2i_r5), "</td><td>",
                percent(m.t2i_r10), "</td><td>", number(m.t2i_median_rank, "%.1f"), "</td><td>",
                number(m.t2i_mean_rank, "%.2f"), "</td></tr></table>\n");
  } else {
    html += absent("retrieval metrics", path);
  }
  const std::string grid = run_files::grid_path(run_dir);
  if (fs::exists(grid)) {
    const std::string bytes = io::read_file(grid);
    html += str("<figure class=\"grid\"><img alt=\"image-caption similarity grid\" src=\"",
                png_data_uri(std::vector<uint8_t>(bytes.begin(), bytes.end())),
                "\"><figcaption>Cosine similarity of each image (column) with each caption (row); "
                "outlined cells are the true pairs.</figcaption></figure>\n");
    const std::string captions = run_files::grid_captions_path(run_dir);
    if (fs::exists(captions)) {
      html += "<ol class=\"grid-captions\" start=\"0\">\n";
      for (const std::string& c : run_files::read_grid_captions(captions)) html += "<li>" + html_escape(c) + "</li>\n";
      html += "</ol>\n";
    }
  } else {
    html += absent("similarity grid", grid);
  }
  return html + "</section>\n";
}

std::string caption_metrics_section(const std::string& run_dir) {
  const std::string path = run_files::caption_metrics_path(run_dir);
  std::string html = "<section id=\"caption-metrics\"><h2>Caption metrics</h2>\n";
  if (!fs::exists(path)) return html + absent("caption metrics", path) + "</section>\n";
  html += "<p>Computed as pycocoevalcap does (PTB tokenization; BLEU at corpus level; CIDEr-D).</p>\n"
          "<table class=\"metrics\"><tr>";
  const auto metrics = run_files::read_caption_metrics(path);
  std::vector<std::pair<std::string, double>> ordered;  // the usual order first, then any others
  for (const char* key : {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D"}) {
    if (metrics.count(key) != 0) ordered.emplace_back(key, metrics.at(key));
  }
  for (const auto& [key, value] : metrics) {
    if (std::find_if(ordered.begin(), ordered.end(), [&](const auto& kv) { return kv.first == key; }) == ordered.end()) {
      ordered.emplace_back(key, value);
    }
  }
  for (const auto& [key, value] : ordered) html += "<th>" + html_escape(key) + "</th>";
  html += "</tr><tr>";
  for (const auto& [key, value] : ordered) html += "<td>" + number(value) + "</td>";
  return html + "</tr></table></section>\n";
}

std::string gallery_section(const std::string& run_dir, const ReportOptions& options) {
  const std::string path = run_files::captions_path(run_dir);
  std::string html = "<section id=\"gallery\"><h2>Generated captions</h2>\n";
  if (!fs::exists(path)) return html + absent("generated captions", path) + "</section>\n";
  const auto rows = run_files::read_captions(path);
  html += str("<p>", std::min(rows.size(), options.max_gallery), " of ", rows.size(), " images.</p>\n<div class=\"gallery\">\n");
  for (size_t i = 0; i < rows.size() && i < options.max_gallery; ++i) {
    const auto& row = rows[i];
    const fs::path image = fs::path(row.image).is_absolute() ? fs::path(row.image) : fs::path(run_dir) / row.image;
    html += "<div class=\"card\">";
    try {
      const data::Image img = data::decode_image_file(image.string());
      const double k = std::min(1.0, static_cast<double>(options.thumbnail) / std::max(img.width, img.height));
      const data::Image thumb = data::resize_image(img, std::max(1, static_cast<int>(img.width * k + 0.5)),
                                                   std::max(1, static_cast<int>(img.height * k + 0.5)));
      html += str("<img alt=\"", html_escape(row.image), "\" width=\"", thumb.width, "\" height=\"", thumb.height,
                  "\" src=\"", png_data_uri(data::encode_png(thumb)), "\">");
    } catch (const Error& e) {
      html += "<div class=\"noimage\">image unavailable: " + html_escape(e.what()) + "</div>";
    }
    html += "<div class=\"text\"><p class=\"generated\"><span class=\"tag\">generated</span> " + html_escape(row.generated) +
            "</p><p class=\"reflabel\">references</p><ul class=\"refs\">";
    for (const auto& r : row.references) html += "<li>" + html_escape(r) + "</li>";
    html += "</ul><p class=\"path\">" + html_escape(row.image) + "</p></div></div>\n";
  }
  return html + "</div></section>\n";
}

std::string config_section(const std::string& run_dir) {
  const std::string path = run_files::config_path(run_dir);
  std::string html = "<section id=\"config\"><h2>Resolved config</h2>\n";
  if (!fs::exists(path)) return html + absent("config", path) + "</section>\n";
  return html + "<pre>" + html_escape(io::read_file(path)) + "</pre></section>\n";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#222;line-height:1.45}
header{background:#1f2d3d;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:24px;font-weight:600}
header p{margin:4px 0 0;color:#b8c4d0;font-size:13px}
nav a{color:#9cd0ff;margin-right:14px;font-size:14px;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:12px 24px 18px;margin:18px 0}
h2{font-size:19px;margin:8px 0 12px;color:#1f2d3d}
.absent{color:#8a6d3b;background:#fcf8e3;padding:8px 12px;border-radius:4px}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0}
svg.chart{background:#fff;border:1px solid #e3e6ea;border-radius:6px;max-width:100%;height:auto}
svg .title{font-size:15px;font-weight:600;fill:#333}
svg .legend{font-size:12px;fill:#444}
svg .grid{stroke:#eceef1}
svg .frame{fill:none;stroke:#9aa3ad}
svg .axis{stroke:#9aa3ad}
svg .ytick{font-size:11px;fill:#555;text-anchor:end}
svg .xtick{font-size:11px;fill:#555;text-anchor:middle}
svg .xlabel{font-size:12px;fill:#555;text-anchor:middle}
table.metrics{border-collapse:collapse;margin:6px 0 12px}
table.metrics th,table.metrics td{border:1px solid #dde1e6;padding:6px 14px;text-align:right}
table.metrics th{background:#eef2f6}
table.metrics td:first-child{text-align:left}
.grid img{max-width:100%;border:1px solid #e3e6ea}
figcaption{font-size:13px;color:#555}
ol.grid-captions{columns:2;font-size:13px;color:#333}
ol.grid-captions li::marker{content:"T" counter(list-item) "  ";color:#888}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{display:flex;gap:12px;border:1px solid #e3e6ea;border-radius:6px;padding:10px;background:#fafbfc}
.card img{flex:none;border-radius:4px;align-self:flex-start}
.card .text{font-size:13px;min-width:0}
.generated{margin:0 0 6px;font-weight:600}
.tag{font-size:11px;font-weight:600;color:#fff;background:#2c7be5;border-radius:3px;padding:1px 5px;margin-right:4px}
.reflabel{margin:0 0 2px;font-size:11px;color:#888;text-transform:uppercase;letter-spacing:.04em}
.refs{margin:0;padding-left:18px;color:#444}
.path{color:#999;font-size:11px;margin:6px 0 0;word-break:break-all}
.noimage{width:120px;height:90px;background:#eee;color:#888;font-size:11px;padding:6px;overflow:hidden}
pre{background:#f7f8fa;border:1px solid #e3e6ea;padding:12px;overflow:auto;font-size:12.5px;max-height:520px}
)";

// Marks <body data-images-ok="yes|no"> once the page has loaded, for automated checks.
constexpr const char* kScript = R"(<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-images-ok", ok ? "yes" : "no");
});
</script>
)";

void write_plots(const std::string& run_dir) {
  const std::string path = run_files::metrics_path(run_dir);
  if (!fs::exists(path)) return;
  std::map<std::string, Series> by_key;
  for (const auto& row : run_files::read_metrics(path)) {
    for (const auto& [key, value] : row.values) {
      by_key[key].name = key;
      by_key[key].points.emplace_back(static_cast<double>(row.step), value);
    }
  }
  if (by_key.empty()) return;
  fs::create_directories(run_files::plots_dir(run_dir));
  for (auto& [key, series] : by_key) {
    std::sort(series.points.begin(), series.points.end());
    data::write_png((fs::path(run_files::plots_dir(run_dir)) / (file_stem(key) + ".png")).string(),
                    line_chart_png(key, {series}));
  }
}

}  // namespace

std::string render_report(const std::string& run_dir, const ReportOptions& options) {
  if (!fs::is_directory(run_dir)) throw FileError(run_dir, "not a directory", "pass a run directory, e.g. runs/demo");
  const std::string name = fs::path(run_dir).lexically_normal().filename().string().empty()
                               ? fs::path(run_dir).lexically_normal().parent_path().filename().string()
                               : fs::path(run_dir).lexically_normal().filename().string();
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>vlm report: " + html_escape(name) + "</title>\n<style>" + kStyle + "</style>\n" + kScript + "</head>\n<body>\n";
  html += "<header><h1>vlm run report: " + html_escape(name) + "</h1><p>" + html_escape(fs::absolute(run_dir).string()) +
          " &middot; generated " + when + "</p><nav><a href=\"#curves\">curves</a><a href=\"#retrieval\">retrieval</a>"
          "<a href=\"#caption-metrics\">caption metrics</a><a href=\"#gallery\">captions</a><a href=\"#config\">config</a></nav></header>\n<main>\n";
  html += curves_section(run_dir);
  html += retrieval_section(run_dir);
  html += caption_metrics_section(run_dir);
  html += gallery_section(run_dir, options);
  html += config_section(run_dir);
  return html + "</main>\n</body></html>\n";
}

std::string write_report(const std::string& run_dir, const ReportOptions& options) {
  const std::string html = render_report(run_dir, options);
  if (options.write_plots) write_plots(run_dir);
  const std::string path = run_files::report_path(run_dir);
  io::write_file_atomic(path, html);
  return path;
}

}  // namespace vlm::eval
