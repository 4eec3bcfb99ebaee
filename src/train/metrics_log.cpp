// MetricsLogger: JSON lines and TensorBoard event files (TFRecord: u64 length, masked CRC32C of
// the length, data, masked CRC32C of the data; Event protos encoded by hand, see the header).
#include "train/metrics_log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "eval/run_files.h"
#include "train/crc32c.h"

namespace vlm::train {
namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Protobuf wire format: a key is (field << 3) | wire type; 0 varint, 1 fixed64, 2 bytes, 5 fixed32.
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_fixed(std::string& out, const void* p, size_t n) {  // little-endian hosts only (x86, arm64)
  out.append(static_cast<const char*>(p), n);
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out += bytes;
}

// Event{wall_time = 1 (double), step = 2 (int64)} plus the caller's other fields.
std::string event_header(double wall_time, int64_t step) {
  std::string e;
  put_varint(e, (1 << 3) | 1);
  put_fixed(e, &wall_time, 8);
  put_varint(e, (2 << 3) | 0);
  put_varint(e, static_cast<uint64_t>(step));
  return e;
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::FILE* open_or_throw(const std::string& path, const char* mode) {
  std::FILE* f = std::fopen(path.c_str(), mode);
  if (f == nullptr) throw FileError(path, std::string("cannot open for writing: ") + std::strerror(errno));
  return f;
}

}  // namespace

MetricsLogger::MetricsLogger(std::string run_dir, bool enabled) : enabled_(enabled) {
  jsonl_path_ = run_dir + "/metrics.jsonl";
  if (!enabled_) return;
  std::error_code ec;
  std::filesystem::create_directories(run_dir + "/tb", ec);
  if (ec) throw FileError(run_dir + "/tb", "cannot create: " + ec.message());
  const double now = unix_seconds();
  const std::string base = run_dir + "/tb/events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + hostname();
  events_path_ = base;
  for (int i = 1; std::filesystem::exists(events_path_); ++i) events_path_ = base + "." + std::to_string(i);
  jsonl_ = open_or_throw(jsonl_path_, "ab");
  events_ = open_or_throw(events_path_, "wb");
  std::string first = event_header(now, 0);
  put_bytes(first, 3, "brain.Event:2");
  write_record(first);
}

MetricsLogger::~MetricsLogger() {
  if (jsonl_ != nullptr) std::fclose(jsonl_);
  if (events_ != nullptr) std::fclose(events_);
}

void MetricsLogger::write_record(const std::string& data) {
  const uint64_t len = data.size();
  const uint32_t len_crc = masked_crc32c(&len, 8);
  const uint32_t data_crc = masked_crc32c(data.data(), data.size());
  std::string rec;
  put_fixed(rec, &len, 8);
  put_fixed(rec, &len_crc, 4);
  rec += data;
  put_fixed(rec, &data_crc, 4);
  if (std::fwrite(rec.data(), 1, rec.size(), events_) != rec.size() || std::fflush(events_) != 0) {
    throw FileError(events_path_, std::string("write failed: ") + std::strerror(errno));
  }
}

void MetricsLogger::log(int64_t step, const std::map<std::string, double>& scalars) {
  if (!enabled_) return;
  const double now = unix_seconds();
  const std::string line = eval::run_files::metrics_line({.step = step, .time = now, .values = scalars}) + "\n";
  std::string summary;
  for (const auto& [name, value] : scalars) {
    std::string v;
    put_bytes(v, 1, name);                                // Summary.Value.tag
    put_varint(v, (2 << 3) | 5);                          // Summary.Value.simple_value (float)
    const auto f = static_cast<float>(value);
    put_fixed(v, &f, 4);
    put_bytes(summary, 1, v);                             // Summary.value
  }
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    throw FileError(jsonl_path_, std::string("write failed: ") + std::strerror(errno));
  }
  std::string event = event_header(now, step);
  put_bytes(event, 5, summary);                           // Event.summary
  write_record(event);
}

}  // namespace vlm::train
