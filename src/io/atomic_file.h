// Atomic writes: a file or a directory appears complete under its final name or not at all.
// Written under a temporary name in the same folder, flushed (fsync), then renamed; the
// parent folder is fsynced so the rename survives a crash.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace vlm::io {

void write_file_atomic(const std::string& path, std::string_view contents);

// Calls fill(tmp_dir) to populate a fresh temporary directory beside `path`, fsyncs every
// file in it, then renames it to `path` (replacing an existing one). If fill throws, the
// temporary directory is removed and nothing at `path` changes.
void write_dir_atomic(const std::string& path, const std::function<void(const std::string& tmp_dir)>& fill);

void fsync_path(const std::string& path);  // a file or a directory
std::string read_file(const std::string& path);  // throws FileError

}  // namespace vlm::io
