// CRC-32C against RFC 3720 appendix B.4 vectors, plus chaining and TensorFlow's mask.
#include "train/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using vlm::train::crc32c;

TEST(Crc32c, Rfc3720Vectors) {
  const std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xff);
  std::vector<uint8_t> ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending.data(), descending.size()), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(std::string("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string()), 0u);
}

TEST(Crc32c, ChainsAcrossPieces) {
  const std::string a = "hello, ", b = "tensorboard";
  EXPECT_EQ(crc32c(b, crc32c(a)), crc32c(a + b));
}

TEST(Crc32c, MaskIsTensorFlows) {
  const std::string s = "123456789";
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(vlm::train::masked_crc32c(s.data(), s.size()), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
  // Hand value: rotr(0xE3069283, 15) = 0x2507C60D; + 0xa282ead8 = 0xC78AB0E5.
  EXPECT_EQ(vlm::train::masked_crc32c(s.data(), s.size()), 0xC78AB0E5u);
}
