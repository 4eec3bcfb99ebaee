// splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
// its finaliser sends every input bit to every output bit, which makes it both a cheap hash
// mixer and, stepped by the golden gamma, a counter-based generator. The project's stable
// hashes, shuffles and synthetic scenes all use these two, so their streams never depend on a
// standard library's distributions.
#pragma once

#include <cstdint>

namespace vlm {

// The generator's increment: 2^64 / the golden ratio, odd.
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

// splitmix64's finaliser.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The finaliser of x + gamma: splitmix64's output for state x (the reference generator then
// steps state += gamma; a counter-based stream may take x = counter instead).
inline uint64_t splitmix64(uint64_t x) { return mix64(x + kGoldenGamma); }

}  // namespace vlm
