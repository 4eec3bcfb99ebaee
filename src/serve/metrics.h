// The server's counters in Prometheus' text exposition format (version 0.0.4): requests by endpoint
// and status, generated tokens, time-to-first-token and latency histograms, and gauges read at
// scrape time. Hand-written: a few counters do not justify prometheus-cpp (not in Debian 12).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vlm::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void observe(double value);
  // Appends NAME_bucket{LABELS,le=...} lines, NAME_sum and NAME_count.
  void write(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(const std::string& endpoint, int status);
  void observe_ttft(double seconds);
  void observe_latency(const std::string& endpoint, double seconds);
  // Gauges and counters owned elsewhere, read when /metrics is scraped.
  void add_gauge(const std::string& name, const std::string& help, std::function<double()> read, bool counter = false);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  Histogram ttft_;
  std::map<std::string, Histogram> latency_;
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
    bool counter;
  };
  std::vector<Gauge> gauges_;
};

}  // namespace vlm::serve
