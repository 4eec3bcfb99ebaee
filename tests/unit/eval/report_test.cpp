// Run-directory files round trips and the HTML report's content: every section present for a
// complete run, each one saying it is absent for an empty run, images inlined, nothing remote.
#include <filesystem>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/report.h"
#include "eval/run_files.h"
#include "test_util.h"
#include "unit/eval/fake_run.h"

namespace vlm::eval {
namespace {
namespace fs = std::filesystem;

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(RunFiles, RoundTrips) {
  vlm::test::TempDir dir;
  RetrievalMetrics m{.i2t_r1 = 0.25, .i2t_r5 = 0.5, .i2t_r10 = 1, .t2i_r1 = 0.125, .t2i_median_rank = 3.5,
                     .num_images = 8, .num_texts = 40};
  const std::string rp = run_files::retrieval_path(dir.path());
  run_files::write_retrieval(rp, m);
  const RetrievalMetrics r = run_files::read_retrieval(rp);
  EXPECT_EQ(r.i2t_r1, 0.25);
  EXPECT_EQ(r.t2i_median_rank, 3.5);
  EXPECT_EQ(r.num_texts, 40);

  const std::vector<run_files::CaptionRow> rows = {
      {"images/a.png", {"a, \"quoted\" caption", "second\nline"}, "generated, with comma"}, {"b.jpg", {}, ""}};
  run_files::write_captions(run_files::captions_path(dir.path()), rows);
  const auto back = run_files::read_captions(run_files::captions_path(dir.path()));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].references, (std::vector<std::string>{"a, \"quoted\" caption", "second", "line"}));
  EXPECT_EQ(back[0].generated, "generated, with comma");
  EXPECT_TRUE(back[1].references.empty());

  const std::string mp = run_files::metrics_path(dir.path());
  std::ofstream(mp) << "{\"step\": 1, \"time\": 1.7e9, \"train/loss\": 2.5}\n\n{\"step\": 2, \"lr\": 1e-4}\n";
  const auto metrics = run_files::read_metrics(mp);
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].values.size(), 1u);  // the wall clock is not a metric
  EXPECT_EQ(metrics[0].time, 1.7e9);
  EXPECT_EQ(metrics[1].values.at("lr"), 1e-4);
  std::ofstream(mp, std::ios::app) << "{\"loss\": 1}\n";
  try {
    run_files::read_metrics(mp);
    FAIL() << "no error";
  } catch (const FileError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:4"), std::string::npos) << e.what();
  }
}

TEST(Report, CompleteRunHasEverySectionInlined) {
  vlm::test::TempDir dir;
  fake::make_fake_run(dir.path(), 6);
  const std::string path = write_report(dir.path());
  EXPECT_EQ(path, run_files::report_path(dir.path()));
  std::ifstream in(path);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* id : {"id=\"curves\"", "id=\"retrieval\"", "id=\"caption-metrics\"", "id=\"gallery\"", "id=\"config\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(count(html, "class=\"absent\""), 0u);
  EXPECT_EQ(count(html, "<img "), 1u + 6u);  // grid + thumbnails
  EXPECT_EQ(count(html, "src=\"data:image/png;base64,"), 7u);
  EXPECT_EQ(count(html, "<svg "), 3u);  // loss, learning rate, recall: no curve of the wall clock
  EXPECT_EQ(html.find(">time<"), std::string::npos);
  EXPECT_NE(html.find("CIDEr-D"), std::string::npos);
  EXPECT_NE(html.find("&quot;maybe&quot;"), std::string::npos);  // captions escaped
  // Nothing fetched from elsewhere.
  EXPECT_FALSE(std::regex_search(html, std::regex("(src|href)=\"(https?:)?//")));
  EXPECT_TRUE(fs::exists(fs::path(run_files::plots_dir(dir.path())) / "train_loss.png"));
  EXPECT_TRUE(fs::exists(fs::path(run_files::plots_dir(dir.path())) / "val_i2t_R_1.png"));
}

TEST(Report, EmptyRunSaysWhatIsAbsent) {
  vlm::test::TempDir dir;
  const std::string html = render_report(dir.path());
  EXPECT_EQ(count(html, "class=\"absent\""), 6u);  // metrics, retrieval, grid, caption metrics, gallery, config
  EXPECT_EQ(count(html, "<img "), 0u);
  EXPECT_THROW(render_report(dir.path() + "/missing"), FileError);
}

TEST(Report, MissingGalleryImageIsReportedNotBroken) {
  vlm::test::TempDir dir;
  run_files::write_captions(run_files::captions_path(dir.path()), {{"nowhere.png", {"ref"}, "gen"}});
  const std::string html = render_report(dir.path());
  EXPECT_EQ(count(html, "<img "), 0u);
  EXPECT_NE(html.find("image unavailable"), std::string::npos);
}

}  // namespace
}  // namespace vlm::eval
