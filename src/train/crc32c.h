// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as TFRecord framing needs it, plus
// TensorFlow's masking. A 1 KB table-driven byte loop: event files are a few KB per log step,
// so neither SSE4.2 nor a library dependency would pay for itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vlm::train {

// Continues `crc` (0 to start) over `data`: crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);
inline uint32_t crc32c(std::string_view data, uint32_t crc = 0) { return crc32c(data.data(), data.size(), crc); }

// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t size);

}  // namespace vlm::train
