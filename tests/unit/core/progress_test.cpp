// Progress: the non-TTY lines (throttling, rate, ETA, status, final line) and the TTY redraw,
// with an injected clock and stream so nothing sleeps.
#include "core/progress.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

using vlm::core::Progress;

namespace {

struct Fixture {
  double now = 100.0;
  std::ostringstream out;
  Progress::Options options(bool tty) {
    Progress::Options o;
    o.out = &out;
    o.tty = tty;
    o.clock = [this] { return now; };
    return o;
  }
};

}  // namespace

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(vlm::core::format_duration(0), "0:00");
  EXPECT_EQ(vlm::core::format_duration(65.4), "1:05");
  EXPECT_EQ(vlm::core::format_duration(3723), "1:02:03");
  EXPECT_EQ(vlm::core::format_duration(-1), "?");
}

TEST(Progress, PlainLinesAreThrottledAndEndWithAFinalLine) {
  Fixture f;
  auto options = f.options(/*tty=*/false);
  options.plain_interval_s = 10;
  Progress p("train", 100, options);
  f.now += 2;
  p.update(4, "loss 2.5000");   // first update prints at once
  f.now += 5;
  p.update(14, "loss 2.0000");  // 5 s after the last line: throttled
  f.now += 5;
  p.update(24, "loss 1.5000");  // 10 s: printed
  f.now += 1;
  p.update(26, "loss 1.4000");  // throttled
  f.now += 1;
  p.finish();                   // final line, last status kept, no ETA
  p.update(27, "ignored");      // after finish: nothing
  EXPECT_EQ(f.out.str(),
            "train 4/100 (4.0%) 2.00 it/s elapsed 0:02 eta 0:48 | loss 2.5000\n"
            "train 24/100 (24.0%) 2.00 it/s elapsed 0:12 eta 0:38 | loss 1.5000\n"
            "train 26/100 (26.0%) 1.86 it/s elapsed 0:14 | loss 1.4000\n");
}

TEST(Progress, ResumedStartCountsOnlyNewWorkInTheRate) {
  Fixture f;
  auto options = f.options(/*tty=*/false);
  options.start = 500;
  options.unit = "step";
  Progress p("stage2", 1000, options);
  f.now += 10;
  p.update(520);
  EXPECT_EQ(f.out.str(), "stage2 520/1000 (52.0%) 2.00 step/s elapsed 0:10 eta 4:00\n");
}

TEST(Progress, UnknownTotalHasNoPercentOrEta) {
  Fixture f;
  Progress p("scan", 0, f.options(/*tty=*/false));
  p.update(3);  // no time has passed: no rate yet
  f.now += 4;
  p.finish("done");
  EXPECT_EQ(f.out.str(), "scan 3 - it/s elapsed 0:00\nscan 3 0.75 it/s elapsed 0:04 | done\n");
}

TEST(Progress, TtyRedrawsOneLineAtMostTenTimesASecond) {
  Fixture f;
  Progress p("eval", 10, f.options(/*tty=*/true));
  f.now += 1;
  p.update(1);
  f.now += 0.05;
  p.update(2);  // within 0.1 s: not drawn
  f.now += 0.1;
  p.update(3);
  f.now += 0.4;
  p.finish();
  EXPECT_EQ(f.out.str(),
            "\reval 1/10 (10.0%) 1.00 it/s elapsed 0:01 eta 0:09\x1b[K"
            "\reval 3/10 (30.0%) 2.61 it/s elapsed 0:01 eta 0:03\x1b[K"
            "\reval 3/10 (30.0%) 1.94 it/s elapsed 0:02\x1b[K\n");
}

TEST(Progress, DestructorClosesAnOpenTtyLine) {
  Fixture f;
  {
    Progress p("x", 2, f.options(/*tty=*/true));
    f.now += 1;
    p.update(1);
  }
  const std::string s = f.out.str();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
}
