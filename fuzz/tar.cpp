// libFuzzer target for the webdataset shard index (data/tar.h, index_tar): any bytes, written to a
// per-process temporary file, are indexed. When the first byte is odd, the header checksum of every
// 512-byte block of the rest is set right first, so that mutations reach past the checksum check
// (random bytes almost never sum right); even, the bytes go in as they are. Every member it lists must lie inside the file (data
// offset past its header, size >= 0, offset + size <= file size, members in file order without
// overlap), and each one's bytes are read back. Only vlm::Error may escape; anything else (another
// exception, a sanitizer report, an abort) is a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdio>
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

// Writes a ustar checksum (6 octal digits, NUL, space) into each whole block.
static void fix_checksums(std::vector<char>& tar) {
  for (size_t block = 0; block + 512 <= tar.size(); block += 512) {
    char* h = tar.data() + block;
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<uint8_t>(h[i]);
    std::snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<char> tar(data + 1, data + size);
  if (data[0] & 1) fix_checksums(tar);
  const std::string& path = scratch_path();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(tar.data(), static_cast<std::streamsize>(tar.size()));
  }
  vlm::data::TarIndex index;
  try {
    index = vlm::data::index_tar(path);
  } catch (const vlm::Error&) {
    return 0;
  }
  const auto file_size = static_cast<int64_t>(tar.size());
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
