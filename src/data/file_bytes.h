// The one reader of image (and shard member) bytes from disk: a regular file or a byte range of
// one, bounded in size. Directories, devices (/dev/zero), FIFOs and sockets are refused before
// a byte is read (stat first, then open non-blocking and check again), so no input can make a
// command block or allocate without limit. Every error names the file and says what it is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vlm::data {

// Encoded images larger than this are refused (a 16k x 16k PNG is rarely above 300 MB).
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

// The whole file. Throws FileError for a missing or special file, or one above max_bytes.
std::vector<uint8_t> read_regular_file(const std::string& path, int64_t max_bytes = kMaxImageFileBytes);

// `size` bytes at `offset` of a regular file (a tar member). Throws FileError when the range is
// negative, above max_bytes, or reaches past the end of the file.
std::vector<uint8_t> read_file_range(const std::string& path, int64_t offset, int64_t size,
                                     int64_t max_bytes = kMaxImageFileBytes);

}  // namespace vlm::data
