// Progress display for long loops (training steps, data passes, downloads): count, rate, ETA and
// a caller's status (e.g. the current loss). On a terminal one self-overwriting line redrawn at
// most ~10 times a second; in logs and pipes a plain line at most every N seconds plus a final
// line, so a captured log stays readable. Clock and stream are injectable for tests. Written here
// (~100 lines) because the log-friendly non-TTY mode is what training runs need most.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace vlm::core {

class Progress {
 public:
  struct Options {
    std::ostream* out = nullptr;          // default std::cerr
    std::optional<bool> tty;              // default: isatty(stderr) when out is std::cerr, else false
    std::function<double()> clock;        // seconds, monotonic; default steady_clock
    double plain_interval_s = 10;         // non-TTY: at most one line per this many seconds
    double tty_interval_s = 0.1;          // TTY: at most one redraw per this many seconds
    int64_t start = 0;                    // the count already done when the loop (re)starts, e.g. a resumed step
    std::string unit = "it";              // "it/s", "step/s", "img/s"
  };

  // total <= 0 means unknown: no percentage or ETA.
  Progress(std::string label, int64_t total);
  Progress(std::string label, int64_t total, Options options);
  ~Progress();  // ends a half-drawn terminal line; does not print a final line (see finish)
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` is the absolute count (not an increment).
  void update(int64_t done, const std::string& status = {});
  // Prints the final line (always) and stops; later calls do nothing.
  void finish(const std::string& status = {});

  // The line as it would be drawn now, e.g.
  // "train 120/1000 (12.0%) 3.41 it/s elapsed 0:35 eta 4:18 | loss 2.3412".
  std::string format(int64_t done, const std::string& status, double now, bool final) const;

 private:
  void emit(const std::string& line, bool final);

  std::string label_;
  int64_t total_;
  Options options_;
  bool tty_ = false;
  double start_time_ = 0;
  double last_draw_ = 0;
  bool drawn_ = false;        // something printed yet
  bool line_open_ = false;    // TTY line without its newline yet
  bool finished_ = false;
  int64_t done_ = 0;
  std::string status_;
};

// "0:05", "12:34", "1:02:03"
std::string format_duration(double seconds);

}  // namespace vlm::core
