// `vlm report` on a fake run directory, opened in headless Chromium: no console messages, every
// <img> decoded (the report's own load script sets data-images-ok), and a screenshot written to
// BUILD/test-output/report.png. A deliberately broken page proves the checks can fail.
// Skips when Chromium is absent (scripts/setup.d/eval.sh installs Debian's chromium).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unit/eval/fake_run.h"

namespace {
namespace fs = std::filesystem;

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/snap/bin"}) {
      const fs::path p = fs::path(dir) / name;
      if (fs::exists(p)) return p.string();
    }
  }
  return {};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

struct BrowserResult {
  int status = -1;
  std::string dom;
  std::vector<std::string> console;  // console messages and uncaught errors
};

// Loads a local page with no network (every host resolves nowhere) in a fresh profile;
// --dump-dom prints the DOM after the load event; console lines come on stderr.
BrowserResult open_in_chromium(const std::string& chromium, const std::string& html_path, const std::string& work,
                               const std::string& screenshot = {}) {
  const std::string profile = work + "/profile-" + std::to_string(std::rand());
  std::string flags = " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
                      " --disable-background-networking --disable-component-update --disable-sync"
                      " --host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir=" + profile +
                      " --enable-logging=stderr --v=0 --virtual-time-budget=5000 --window-size=1280,2200";
  const std::string url = " file://" + fs::absolute(html_path).string();
  const std::string err = work + "/stderr.txt", out = work + "/dom.html";
  BrowserResult r;
  const std::string cmd = "timeout 60 " + chromium + flags + " --dump-dom" + url + " >" + out + " 2>" + err;
  r.status = std::system(cmd.c_str());
  r.dom = slurp(out);
  std::istringstream lines(slurp(err));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) r.console.push_back(line);
  }
  if (!screenshot.empty()) {
    const std::string shot = "timeout 60 " + chromium + flags + " --hide-scrollbars --screenshot=" + screenshot + url +
                             " >/dev/null 2>&1";
    EXPECT_EQ(std::system(shot.c_str()), 0) << shot;
  }
  return r;
}

TEST(ReportInChromium, OpensCleanWithAllImagesDecoded) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium not found (scripts/setup.d/eval.sh installs Debian's chromium)";
  vlm::test::TempDir dir;
  const std::string run = dir.path() + "/fake-run";
  vlm::eval::fake::make_fake_run(run, 8);
  const auto res = vlm::test::run_vlm("report " + run);
  ASSERT_EQ(res.status, 0) << res.output;
  const std::string report = run + "/report.html";
  ASSERT_TRUE(fs::exists(report));

  const fs::path out_dir = fs::path(VLM_BINARY).parent_path() / "test-output";
  fs::create_directories(out_dir);
  const std::string shot = (out_dir / "report.png").string();
  fs::remove(shot);
  const BrowserResult r = open_in_chromium(chromium, report, dir.path(), shot);
  ASSERT_EQ(r.status, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.dom, m, std::regex("data-images=\"(\\d+)\""))) << r.dom.substr(0, 2000);
  EXPECT_EQ(m[1].str(), "9");  // grid + 8 thumbnails
  EXPECT_NE(r.dom.find("data-images-ok=\"yes\""), std::string::npos);
  for (const auto& line : r.console) ADD_FAILURE() << "console: " << line;
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 10000u);
  std::cout << "report screenshot: " << shot << "\n";
}

TEST(ReportInChromium, ChecksCatchABrokenPage) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "Chromium not found (scripts/setup.d/eval.sh installs Debian's chromium)";
  vlm::test::TempDir dir;
  // The report's marker script with an undecodable image and a script error.
  const std::string page = dir.path() + "/broken.html";
  std::ofstream(page) << "<!DOCTYPE html><html><head><script>window.addEventListener('load',function(){"
                         "var i=Array.prototype.slice.call(document.images);document.body.setAttribute('data-images-ok',"
                         "i.every(function(x){return x.complete&&x.naturalWidth>0})?'yes':'no')});</script></head>"
                         "<body><img src=\"data:image/png;base64,AAAA\"><script>notDefined();</script></body></html>";
  const BrowserResult r = open_in_chromium(chromium, page, dir.path());
  EXPECT_NE(r.dom.find("data-images-ok=\"no\""), std::string::npos) << r.dom;
  EXPECT_FALSE(r.console.empty());
}

}  // namespace
