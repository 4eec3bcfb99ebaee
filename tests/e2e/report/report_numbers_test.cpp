// `vlm report RUN`: every number the report prints for retrieval and caption metrics is read back
// from report.html (by its table's header and row labels, not by position) and compared with the
// run's eval files, within half a unit of the last digit printed. Each value differs from every
// other, so a row or column filled from the wrong field fails.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "eval/run_files.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "unit/eval/fake_run.h"

namespace {

using Table = std::vector<std::vector<std::string>>;  // rows of cells, header row first

// The first <table> inside <section id="ID">, cells with tags stripped and entities kept.
Table section_table(const std::string& html, const std::string& id) {
  const auto begin = html.find("<section id=\"" + id + "\"");
  if (begin == std::string::npos) return {};
  const auto end = html.find("</section>", begin);
  const std::string section = html.substr(begin, end - begin);
  const auto t0 = section.find("<table"), t1 = section.find("</table>");
  if (t0 == std::string::npos || t1 == std::string::npos) return {};
  const std::string table = section.substr(t0, t1 - t0);
  Table rows;
  const std::regex row_re("<tr>([\\s\\S]*?)</tr>"), cell_re("<t[hd][^>]*>([\\s\\S]*?)</t[hd]>"), tag_re("<[^>]*>");
  for (std::sregex_iterator r(table.begin(), table.end(), row_re), e; r != e; ++r) {
    const std::string inner = (*r)[1].str();
    std::vector<std::string> cells;
    for (std::sregex_iterator c(inner.begin(), inner.end(), cell_re); c != e; ++c) {
      cells.push_back(std::regex_replace((*c)[1].str(), tag_re, ""));
    }
    rows.push_back(cells);
  }
  return rows;
}

// |printed - want| within half a unit of the printed text's last decimal place.
void expect_printed(const std::string& printed, double want, const std::string& what) {
  const auto dot = printed.find('.');
  const int decimals = dot == std::string::npos ? 0 : static_cast<int>(printed.size() - dot - 1);
  const double got = std::stod(printed);
  EXPECT_LE(std::abs(got - want), 0.5 * std::pow(10.0, -decimals) + 1e-12)
      << what << ": the report prints " << printed << ", the run's file says " << want;
}

}  // namespace

TEST(ReportNumbers, RetrievalAndCaptionTablesMatchTheRunFiles) {
  vlm::test::TempDir dir;
  const std::string run = dir.path() + "/run";
  vlm::eval::fake::make_fake_run(run, 4);
  // Asymmetric retrieval: every field its own value (the two directions differ everywhere).
  vlm::eval::RetrievalMetrics m;
  m.i2t_r1 = 2.0 / 12, m.i2t_r5 = 7.0 / 12, m.i2t_r10 = 11.0 / 12;
  m.t2i_r1 = 0.25, m.t2i_r5 = 0.5, m.t2i_r10 = 0.75;
  m.i2t_median_rank = 4.5, m.i2t_mean_rank = 5.5;
  m.t2i_median_rank = 6.5, m.t2i_mean_rank = 6.75;
  m.num_images = 12, m.num_texts = 13;
  namespace rf = vlm::eval::run_files;
  rf::write_retrieval(rf::retrieval_path(run), m);
  const std::map<std::string, double> captions = {{"BLEU-1", 0.7123}, {"BLEU-2", 0.5234}, {"BLEU-3", 0.4345},
                                                  {"BLEU-4", 0.3456}, {"ROUGE-L", 0.6567}, {"CIDEr-D", 1.2678}};
  rf::write_caption_metrics(rf::caption_metrics_path(run), captions);

  const auto r = vlm::test::run_vlm("report " + run);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string html = vlm::io::read_file(rf::report_path(run));

  const Table retrieval = section_table(html, "retrieval");
  ASSERT_EQ(retrieval.size(), 3u) << "header, image->text, text->image";
  const bool percent = html.find("recall in percent") != std::string::npos;
  const std::map<std::string, std::pair<double, double>> want = {  // column -> (i2t, t2i)
      {"R@1", {m.i2t_r1, m.t2i_r1}},
      {"R@5", {m.i2t_r5, m.t2i_r5}},
      {"R@10", {m.i2t_r10, m.t2i_r10}},
      {"median rank", {m.i2t_median_rank, m.t2i_median_rank}},
      {"mean rank", {m.i2t_mean_rank, m.t2i_mean_rank}}};
  int checked = 0;
  for (size_t row = 1; row < retrieval.size(); ++row) {
    const std::string label = retrieval[row].at(0);
    const bool i2t = label.find("image") < label.find("text");
    ASSERT_NE(label.find("image"), std::string::npos) << label;
    for (size_t col = 1; col < retrieval[0].size(); ++col) {
      const std::string& head = retrieval[0][col];
      ASSERT_TRUE(want.count(head)) << "unknown column " << head;
      double v = i2t ? want.at(head).first : want.at(head).second;
      if (percent && head.rfind("R@", 0) == 0) v *= 100;
      expect_printed(retrieval[row].at(col), v, label + " " + head);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10);
  EXPECT_NE(html.find("12 images, 13 captions"), std::string::npos);

  const Table metrics = section_table(html, "caption-metrics");
  ASSERT_EQ(metrics.size(), 2u);
  ASSERT_EQ(metrics[0].size(), captions.size());
  ASSERT_EQ(metrics[1].size(), captions.size());
  for (size_t col = 0; col < metrics[0].size(); ++col) {
    ASSERT_TRUE(captions.count(metrics[0][col])) << metrics[0][col];
    expect_printed(metrics[1][col], captions.at(metrics[0][col]), metrics[0][col]);
  }
}
