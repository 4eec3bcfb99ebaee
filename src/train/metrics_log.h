// Training metrics, written two ways each log step: one JSON line in run_dir/metrics.jsonl (the
// format and its one reader are eval/run_files.h's) and TensorBoard scalar events in run_dir/tb/.
// The event file is TFRecord framing around hand-encoded Event protos: the four protobuf fields
// needed (wall_time, step, file_version, summary.value{tag, simple_value}) don't justify a
// protobuf dependency, and TensorBoard reads the result as written by TensorFlow's own writer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

namespace vlm::train {

class MetricsLogger {
 public:
  // Creates run_dir/ and run_dir/tb/ when enabled; a disabled logger (data-parallel ranks other
  // than 0) writes nothing. metrics.jsonl is appended to, so a resumed run continues one file;
  // each logger opens a fresh events file, as TensorFlow's writer does.
  explicit MetricsLogger(std::string run_dir, bool enabled = true);
  ~MetricsLogger();
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;

  // Appends run_files::metrics_line({step, now, scalars}) (flushed) and one Event with every
  // scalar. Non-finite values are written as null in JSON and as they are in TensorBoard.
  void log(int64_t step, const std::map<std::string, double>& scalars);

  bool enabled() const { return enabled_; }
  const std::string& jsonl_path() const { return jsonl_path_; }
  const std::string& events_path() const { return events_path_; }

 private:
  void write_record(const std::string& data);

  bool enabled_;
  std::string jsonl_path_;
  std::string events_path_;
  std::FILE* jsonl_ = nullptr;
  std::FILE* events_ = nullptr;
};

}  // namespace vlm::train
