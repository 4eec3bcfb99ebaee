// libFuzzer target for the safetensors reader: any bytes go through SafetensorsFile::from_buffer;
// a file that validates must describe only bytes inside the buffer, so every tensor's bytes are
// read (ASan catches a span past the end) and checked against dtype x shape. Only vlm::Error may
// escape the parser; anything else (another exception, a sanitizer report) is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const vlm::io::SafetensorsFile> file;
  try {
    file = vlm::io::SafetensorsFile::from_buffer(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
  } catch (const vlm::Error&) {
    return 0;
  }
  uint64_t total = 0;
  volatile uint8_t sink = 0;
  for (const auto& info : file->tensors()) {
    const auto bytes = file->bytes(info);
    if (static_cast<uint64_t>(info.numel()) * vlm::io::dtype_size(info.dtype) != bytes.size()) std::abort();
    if (file->find(info.name) != &info) std::abort();
    uint8_t x = 0;
    for (const uint8_t b : bytes) x ^= b;
    sink = sink ^ x;
    total += bytes.size();
  }
  // The offsets tile the data section, which ends at the end of the buffer.
  if (total > size) std::abort();
  for (const auto& [key, value] : file->metadata()) sink = sink ^ static_cast<uint8_t>(key.size() + value.size());
  return 0;
}
