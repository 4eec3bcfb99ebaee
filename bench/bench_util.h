// Small helpers the benchmarks share: the median of repeated timings, the process's CPU seconds
// (all threads; robust to other processes on a shared machine), the load average, and the
// comma-separated lists their flags take.
#pragma once

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace vlm::bench {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

// The 1-minute load average, or -1 when it cannot be read.
inline double load_1m() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

// "a,b,,c" -> {"a", "b", "c"}: a flag's comma-separated values, empty items dropped.
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace vlm::bench
