#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace vlm::io {
namespace {

std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

void fsync_tree(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() || entry.is_directory()) fsync_path(entry.path().string());
  }
  fsync_path(dir.string());
}

}  // namespace

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path, std::string("cannot open to flush: ") + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw FileError(path, std::string("fsync failed: ") + std::strerror(errno));
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  std::error_code dir_ec;
  if (fs::is_directory(path, dir_ec)) {
    // rename(2) would fail only after the whole write, with an errno that names no cause.
    throw FileError(path, "is a directory, not a file", "name a file to write, e.g. " + path + "/out");
  }
  const std::string tmp = temp_name(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw FileError(path, "cannot create temporary file " + tmp);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw FileError(path, "write failed (disk full?)");
    }
  }
  fsync_path(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw FileError(path, "cannot rename temporary file into place: " + ec.message());
  }
  const fs::path parent = fs::path(path).parent_path();
  fsync_path(parent.empty() ? "." : parent.string());
}

void write_dir_atomic(const std::string& path, const std::function<void(const std::string&)>& fill) {
  const std::string tmp = temp_name(path);
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) throw FileError(path, "cannot create temporary directory " + tmp + ": " + ec.message());
  try {
    fill(tmp);
    fsync_tree(tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // rename(2) cannot replace a non-empty directory: move the old one aside first and
  // delete it only after the new one is in place.
  std::string old;
  if (fs::exists(path)) {
    old = temp_name(path) + ".old";
    fs::rename(path, old, ec);
    if (ec) throw FileError(path, "cannot move the previous directory aside: " + ec.message());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, path, ec);
    throw FileError(path, "cannot rename temporary directory into place");
  }
  const fs::path parent = fs::path(path).parent_path();
  fsync_path(parent.empty() ? "." : parent.string());
  if (!old.empty()) fs::remove_all(old, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError(path, fs::exists(path) ? "cannot read" : "no such file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace vlm::io
