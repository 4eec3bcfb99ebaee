// MetricsLogger: metrics.jsonl rows read back, and the TensorBoard event file re-read with an
// independent TFRecord/protobuf decoder written here (framing, both CRCs, every field decoded).
#include "train/metrics_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/run_files.h"
#include "io/atomic_file.h"
#include "test_util.h"
#include "train/crc32c.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint32_t read_u32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}
uint64_t read_u64(const std::string& s, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}
uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// Splits a TFRecord file, asserting both CRCs of every record.
std::vector<std::string> records(const std::string& file) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < file.size()) {
    EXPECT_LE(at + 12, file.size());
    const uint64_t len = read_u64(file, at);
    EXPECT_EQ(read_u32(file, at + 8), mask(vlm::train::crc32c(file.data() + at, 8))) << "length CRC at " << at;
    EXPECT_LE(at + 12 + len + 4, file.size());
    const std::string data = file.substr(at + 12, len);
    EXPECT_EQ(read_u32(file, at + 12 + len), mask(vlm::train::crc32c(data))) << "data CRC at " << at;
    out.push_back(data);
    at += 12 + len + 4;
  }
  return out;
}

// A minimal protobuf reader: field number -> raw values (varints as integers, others as bytes).
struct Field {
  int wire = 0;
  uint64_t varint = 0;
  std::string bytes;
};
std::multimap<int, Field> decode(const std::string& msg) {
  std::multimap<int, Field> out;
  size_t at = 0;
  auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; at < msg.size(); shift += 7) {
      const auto b = static_cast<uint8_t>(msg[at++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  while (at < msg.size()) {
    const uint64_t key = varint();
    Field f;
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.varint = varint();
    } else if (f.wire == 1 || f.wire == 5) {
      const size_t n = f.wire == 1 ? 8 : 4;
      f.bytes = msg.substr(at, n);
      at += n;
    } else if (f.wire == 2) {
      const uint64_t n = varint();
      f.bytes = msg.substr(at, n);
      at += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      break;
    }
    out.emplace(static_cast<int>(key >> 3), f);
  }
  return out;
}

template <typename T>
T as(const std::string& bytes) {
  T v;
  EXPECT_EQ(bytes.size(), sizeof(T));
  std::memcpy(&v, bytes.data(), sizeof(T));
  return v;
}

}  // namespace

TEST(MetricsLog, JsonlRowsReadBack) {
  vlm::test::TempDir dir;
  const double before = static_cast<double>(std::time(nullptr)) - 1;
  {
    vlm::train::MetricsLogger logger(dir.path() + "/run");
    logger.log(5, {{"loss", 2.5}, {"lr", 1e-4}});
    logger.log(10, {{"loss", std::numeric_limits<double>::quiet_NaN()}, {"val_loss", 1.25}});
  }
  const std::string path = dir.path() + "/run/metrics.jsonl";
  // The exact line layout: step first, then time, then the scalars.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.rfind("{\"step\":5,\"time\":", 0), 0u) << first;
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j.size(), 4u);

  const auto rows = vlm::eval::run_files::read_metrics(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 5);
  EXPECT_GE(rows[0].time, before);
  EXPECT_LE(rows[0].time, static_cast<double>(std::time(nullptr)) + 1);
  EXPECT_DOUBLE_EQ(rows[0].values.at("loss"), 2.5);
  EXPECT_DOUBLE_EQ(rows[0].values.at("lr"), 1e-4);
  EXPECT_EQ(rows[1].step, 10);
  EXPECT_TRUE(std::isnan(rows[1].values.at("loss")));  // written as null
  EXPECT_DOUBLE_EQ(rows[1].values.at("val_loss"), 1.25);

  // A second logger (a resumed run) appends to the same file and opens a new events file.
  {
    vlm::train::MetricsLogger logger(dir.path() + "/run");
    logger.log(15, {{"loss", 1.0}});
  }
  EXPECT_EQ(vlm::eval::run_files::read_metrics(path).size(), 3u);
  size_t event_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/run/tb")) {
    event_files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  EXPECT_EQ(event_files, 2u);
}

TEST(MetricsLog, TensorBoardEventsDecodeBack) {
  vlm::test::TempDir dir;
  std::string events_path;
  {
    vlm::train::MetricsLogger logger(dir.path());
    events_path = logger.events_path();
    logger.log(3, {{"train/loss", 0.75}, {"lr", 3e-4}});
    logger.log(300, {{"train/loss", 0.5}});
  }
  EXPECT_EQ(std::filesystem::path(events_path).parent_path(), std::filesystem::path(dir.path() + "/tb"));
  const auto recs = records(slurp(events_path));
  ASSERT_EQ(recs.size(), 3u);

  // Record 0: wall_time, step 0 and file_version "brain.Event:2".
  const auto e0 = decode(recs[0]);
  ASSERT_EQ(e0.count(1), 1u);
  EXPECT_EQ(e0.find(1)->second.wire, 1);
  EXPECT_GT(as<double>(e0.find(1)->second.bytes), 1.6e9);
  ASSERT_EQ(e0.count(3), 1u);
  EXPECT_EQ(e0.find(3)->second.bytes, "brain.Event:2");
  EXPECT_EQ(e0.count(5), 0u);

  // Records 1, 2: step and one Summary.Value per scalar (tag, float simple_value).
  struct Expect {
    uint64_t step;
    std::map<std::string, float> values;
  };
  const std::vector<Expect> expected = {{3, {{"lr", 3e-4f}, {"train/loss", 0.75f}}}, {300, {{"train/loss", 0.5f}}}};
  for (size_t r = 0; r < expected.size(); ++r) {
    const auto e = decode(recs[r + 1]);
    ASSERT_EQ(e.count(2), 1u);
    EXPECT_EQ(e.find(2)->second.varint, expected[r].step);
    ASSERT_EQ(e.count(5), 1u);
    std::map<std::string, float> got;
    for (const auto& [field, value] : decode(e.find(5)->second.bytes)) {
      ASSERT_EQ(field, 1);
      const auto v = decode(value.bytes);
      ASSERT_EQ(v.count(1), 1u);
      ASSERT_EQ(v.count(2), 1u);
      EXPECT_EQ(v.find(2)->second.wire, 5);
      got[v.find(1)->second.bytes] = as<float>(v.find(2)->second.bytes);
    }
    EXPECT_EQ(got, expected[r].values);
  }
}

TEST(MetricsLog, FirstRecordMatchesHandEncodedBytes) {
  vlm::test::TempDir dir;
  std::string events_path;
  { vlm::train::MetricsLogger logger(dir.path()); events_path = logger.events_path(); }
  const std::string file = slurp(events_path);
  // 9-byte wall_time (key 0x09 + double), step 0 (0x10 0x00), file_version (0x1a, 13, text) = 26 bytes.
  ASSERT_EQ(file.size(), 12u + 26u + 4u);
  EXPECT_EQ(read_u64(file, 0), 26u);
  EXPECT_EQ(static_cast<uint8_t>(file[12]), 0x09);
  EXPECT_EQ(file.substr(21, 4), std::string("\x10\x00\x1a\x0d", 4));
  EXPECT_EQ(file.substr(25, 13), "brain.Event:2");
}

TEST(MetricsLog, DisabledLoggerWritesNothing) {
  vlm::test::TempDir dir;
  vlm::train::MetricsLogger logger(dir.path() + "/rank1", /*enabled=*/false);
  logger.log(1, {{"loss", 1.0}});
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/rank1"));
}

TEST(MetricsLog, ReaderNamesTheBadLine) {
  vlm::test::TempDir dir;
  const std::string path = dir.path() + "/metrics.jsonl";
  std::ofstream(path) << "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": \"x\"}\n";
  try {
    vlm::eval::run_files::read_metrics(path);
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":2: value of \"loss\" is not a number");
  }
  std::ofstream(path) << "{\"loss\": 2}\n";
  try {
    vlm::eval::run_files::read_metrics(path);
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":1: expected an object with an integer \"step\"");
  }
  std::ofstream(path) << "{\"step\": 1}\nnot json\n";
  try {
    vlm::eval::run_files::read_metrics(path);
    FAIL() << "no error";
  } catch (const vlm::FileError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":2: not valid JSON", 0), 0u) << e.what();
  }
  EXPECT_THROW(vlm::eval::run_files::read_metrics(dir.path() + "/absent.jsonl"), vlm::FileError);
}

// A kill can leave the last line half-written (the logger appends and flushes whole lines): the
// reader drops it, and a rewritten log is byte-identical to the logger's lines.
TEST(MetricsLog, TornLastLineIsDroppedAndLinesRoundTrip) {
  vlm::test::TempDir dir;
  {
    vlm::train::MetricsLogger logger(dir.path() + "/run");
    logger.log(1, {{"loss", 2.0 / 3.0}, {"lr", 1e-4}});
    logger.log(2, {{"loss", std::numeric_limits<double>::infinity()}});
  }
  const std::string path = dir.path() + "/run/metrics.jsonl";
  const std::string written = vlm::io::read_file(path);
  std::ofstream(path, std::ios::app) << "{\"step\": 3, \"lo";
  const auto rows = vlm::eval::run_files::read_metrics(path);
  ASSERT_EQ(rows.size(), 2u);
  std::string again;
  for (const auto& row : rows) again += vlm::eval::run_files::metrics_line(row) + "\n";
  EXPECT_EQ(again, written);
  EXPECT_THROW(vlm::eval::run_files::metrics_line({.step = 1, .values = {{"time", 1.0}}}), vlm::Error);
}
