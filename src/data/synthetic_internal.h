// Deterministic randomness for the synthetic scenes: SplitMix64 over a seed mixed from
// (seed, stream, index), with uniform draws computed from raw bits (std:: distributions are
// implementation-defined, so they could change the data between compilers).
#pragma once

#include <cstdint>
#include <vector>

#include "core/mix64.h"
#include "data/synthetic.h"

namespace vlm::data {

inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform01()) * (hi - lo); }
  int below(int n) { return static_cast<int>(uniform01() * n); }  // [0, n)

 private:
  uint64_t state_;
};

}  // namespace vlm::data
