// libFuzzer target for the webdataset shard index (data/tar.h, index_tar): any bytes, written to a
// per-process temporary file, are indexed. Every member it lists must lie inside the file (data
// offset past its header, size >= 0, offset + size <= file size, members in file order without
// overlap), and each one's bytes are read back. Only vlm::Error may escape; anything else (another
// exception, a sanitizer report, an abort) is a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/tar.h"

namespace {

const std::string& scratch_path() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("vlm-fuzz-tar-" + std::to_string(::getpid()) + ".tar")).string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = scratch_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  vlm::data::TarIndex index;
  try {
    index = vlm::data::index_tar(path);
  } catch (const vlm::Error&) {
    return 0;
  }
  const auto file_size = static_cast<int64_t>(size);
  int64_t end_of_previous = 0;
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes;
  for (const auto& m : index.members) {
    if (m.offset < 512 || m.size < 0 || m.offset > file_size || m.size > file_size - m.offset) std::abort();
    if (m.offset < end_of_previous) std::abort();
    end_of_previous = m.offset + m.size;
    bytes.resize(static_cast<size_t>(m.size));
    in.seekg(m.offset);
    in.read(bytes.data(), m.size);
    if (in.gcount() != m.size) std::abort();
  }
  return 0;
}
