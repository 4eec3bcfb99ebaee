// Prometheus text format for the server's metrics (see metrics.h).
#include "serve/metrics.h"

#include <sstream>

namespace vlm::serve {
namespace {

const std::vector<double> kSecondsBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : labels + ",";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + sep + "le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() : ttft_(kSecondsBuckets) {}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::observe_ttft(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::observe_latency(const std::string& endpoint, double seconds) {
  std::lock_guard lock(mu_);
  latency_.try_emplace(endpoint, kSecondsBuckets).first->second.observe(seconds);
}

void Metrics::add_gauge(const std::string& name, const std::string& help, std::function<double()> read, bool counter) {
  std::lock_guard lock(mu_);
  gauges_.push_back({name, help, std::move(read), counter});
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP vlm_requests_total HTTP requests by endpoint and status code.\n# TYPE vlm_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += "vlm_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  }
  out += "# HELP vlm_time_to_first_token_seconds Time from a chat request's arrival to its first token.\n"
         "# TYPE vlm_time_to_first_token_seconds histogram\n";
  ttft_.write(out, "vlm_time_to_first_token_seconds", "");
  out += "# HELP vlm_request_duration_seconds Request latency by endpoint.\n"
         "# TYPE vlm_request_duration_seconds histogram\n";
  for (const auto& [endpoint, h] : latency_) {
    h.write(out, "vlm_request_duration_seconds", "endpoint=\"" + endpoint + "\"");
  }
  for (const auto& g : gauges_) {
    out += "# HELP " + g.name + " " + g.help + "\n# TYPE " + g.name + (g.counter ? " counter\n" : " gauge\n");
    out += g.name + " " + number(g.read()) + "\n";
  }
  return out;
}

}  // namespace vlm::serve
