// Streaming safetensors writer: header (ordered JSON, padded to 8 bytes as the reference writer
// does) then the tensor bytes as they come; see safetensors_stream.h.
#include "io/safetensors_stream.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace vlm::io {

void check_output_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw FileError(path, "is a directory, not an output file", "name a file, e.g. " + (fs::path(path) / "out.safetensors").string());
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw FileError(path, "cannot be written: folder " + parent.string() + " does not exist", "create it first");
}

SafetensorsStreamWriter::SafetensorsStreamWriter(std::string path, const std::string& name, DType dtype,
                                                 const std::vector<int64_t>& shape,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(std::move(path)), tmp_(path_ + ".tmp-" + std::to_string(::getpid())) {
  check_output_file(path_);
  uint64_t numel = 1;
  for (const int64_t d : shape) {
    if (d < 0) throw FileError(path_, "tensor '" + name + "' has a negative dimension");
    numel *= static_cast<uint64_t>(d);
  }
  expected_ = numel * dtype_size(dtype);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  header[name] = {{"dtype", dtype_name(dtype)}, {"shape", shape}, {"data_offsets", {uint64_t{0}, expected_}}};
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string head(8, '\0');
  for (int i = 0; i < 8; ++i) head[static_cast<size_t>(i)] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  head += json;
  file_ = std::fopen(tmp_.c_str(), "wb");
  if (file_ == nullptr) throw FileError(path_, str("cannot create ", tmp_, ": ", std::strerror(errno)));
  if (std::fwrite(head.data(), 1, head.size(), file_) != head.size()) {
    throw FileError(path_, "write failed (disk full?)");
  }
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::error_code ec;
    fs::remove(tmp_, ec);
  }
}

void SafetensorsStreamWriter::write(std::span<const uint8_t> bytes) {
  if (file_ == nullptr) throw FileError(path_, "already finished");
  if (bytes.size() > expected_ - written_)
    throw FileError(path_, str("more bytes than the declared ", expected_));
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) throw FileError(path_, "write failed (disk full?)");
  written_ += bytes.size();
}

void SafetensorsStreamWriter::finish() {
  if (file_ == nullptr) return;
  if (written_ != expected_) throw FileError(path_, str(written_, " bytes written of the declared ", expected_));
  const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code ec;
  if (!ok) {
    fs::remove(tmp_, ec);
    throw FileError(path_, "write failed (disk full?)");
  }
  fs::rename(tmp_, path_, ec);
  if (ec) {
    fs::remove(tmp_, ec);
    throw FileError(path_, "cannot move the finished file into place: " + ec.message());
  }
  const fs::path parent = fs::path(path_).parent_path();
  fsync_path(parent.empty() ? "." : parent.string());
}

}  // namespace vlm::io
