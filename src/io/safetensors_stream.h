// A safetensors file written as its one tensor is produced: the header (shape known up front),
// then the bytes in pieces, to a temporary file that finish() fsyncs and renames into place. For
// outputs too large to hold (`vlm preprocess` of thousands of images): memory stays one piece.
// Same format as io/safetensors.h's write_safetensors, which needs every byte in memory at once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace vlm::io {

class SafetensorsStreamWriter {
 public:
  // Throws FileError when `path` is a directory or its temporary file cannot be created.
  SafetensorsStreamWriter(std::string path, const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                          const std::map<std::string, std::string>& metadata = {});
  ~SafetensorsStreamWriter();  // removes the temporary file unless finish() ran
  SafetensorsStreamWriter(const SafetensorsStreamWriter&) = delete;
  SafetensorsStreamWriter& operator=(const SafetensorsStreamWriter&) = delete;

  // Appends bytes; throws FileError past the declared size or on a write error (disk full).
  void write(std::span<const uint8_t> bytes);
  // Checks every declared byte arrived, flushes, fsyncs and renames into place.
  void finish();

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  uint64_t expected_ = 0, written_ = 0;
};

// Refuses a directory (or a path under a missing folder) as an output file before any work,
// naming it: rename(2) over a directory fails late and with a confusing errno.
void check_output_file(const std::string& path);

}  // namespace vlm::io
