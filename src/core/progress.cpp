// Progress: rate is the average since the loop (re)started; ETA = remaining / rate. Throttling
// decides per update from the injected clock, so no thread or timer is involved.
#include "core/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace vlm::core {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[48];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total) : Progress(std::move(label), total, Options{}) {}

Progress::Progress(std::string label, int64_t total, Options options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  if (options_.out == nullptr) options_.out = &std::cerr;
  if (!options_.clock) {
    options_.clock = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
  tty_ = options_.tty.value_or(options_.out == &std::cerr && ::isatty(STDERR_FILENO) == 1);
  start_time_ = options_.clock();
  done_ = options_.start;
}

Progress::~Progress() {
  if (line_open_) *options_.out << "\n" << std::flush;
}

std::string Progress::format(int64_t done, const std::string& status, double now, bool final) const {
  const double elapsed = now - start_time_;
  const double rate = elapsed > 0 ? static_cast<double>(done - options_.start) / elapsed : 0.0;
  char buf[160];
  std::string line = label_ + " ";
  if (total_ > 0) {
    std::snprintf(buf, sizeof(buf), "%lld/%lld (%.1f%%)", static_cast<long long>(done),
                  static_cast<long long>(total_), 100.0 * static_cast<double>(done) / static_cast<double>(total_));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(done));
  }
  line += buf;
  if (rate > 0) {
    std::snprintf(buf, sizeof(buf), rate >= 100 ? " %.0f %s/s" : " %.2f %s/s", rate, options_.unit.c_str());
  } else {
    std::snprintf(buf, sizeof(buf), " - %s/s", options_.unit.c_str());
  }
  line += buf;
  line += " elapsed " + format_duration(elapsed);
  if (!final && total_ > 0) {
    line += " eta " + (rate > 0 ? format_duration(static_cast<double>(total_ - done) / rate) : std::string("?"));
  }
  if (!status.empty()) line += " | " + status;
  return line;
}

void Progress::emit(const std::string& line, bool final) {
  std::ostream& out = *options_.out;
  if (tty_) {
    out << "\r" << line << "\x1b[K";  // erase what a longer previous line left
    line_open_ = !final;
    if (final) out << "\n";
  } else {
    out << line << "\n";
  }
  out << std::flush;
  drawn_ = true;
}

void Progress::update(int64_t done, const std::string& status) {
  if (finished_) return;
  done_ = done;
  status_ = status;
  const double now = options_.clock();
  const double interval = tty_ ? options_.tty_interval_s : options_.plain_interval_s;
  if (drawn_ && now - last_draw_ < interval) return;
  last_draw_ = now;
  emit(format(done, status, now, /*final=*/false), /*final=*/false);
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  finished_ = true;
  emit(format(done_, status.empty() ? status_ : status, options_.clock(), /*final=*/true), /*final=*/true);
}

}  // namespace vlm::core
