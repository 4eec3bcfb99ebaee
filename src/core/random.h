// The project's randomness and hashing, in one place: splitmix64 (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", 2014) as hash mixer and counter-based generator, the
// stable string hash that splits data and seeds per-sample draws, uniform numbers computed from raw
// bits, and the named seed streams every use of a run's seed derives from. std:: distributions are
// implementation-defined (their draws could change between standard libraries), so none is used;
// std::mt19937_64 itself is fully specified by the standard and is kept where its draws are relied on.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace vlm {

// ---- splitmix64 ---------------------------------------------------------------------------------

// The generator's increment: 2^64 / the golden ratio, odd.
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;

// splitmix64's finaliser: every input bit reaches every output bit.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The finaliser of x + gamma: splitmix64's output for state x (the reference generator then
// steps state += gamma; a counter-based stream may take x = counter instead).
inline uint64_t splitmix64(uint64_t x) { return mix64(x + kGoldenGamma); }

// One seed from three numbers (seed, stream, index), each stage fully mixed.
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c); }

// ---- uniform numbers from bits ------------------------------------------------------------------

// [0, 1) from the top 53 bits: every double of the form k / 2^53.
inline double unit_from_top53(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// [0, 1) from all 64 bits, rounded to double: what std::uniform_real_distribution<double>(0, 1)
// returns for one 64-bit draw in libstdc++ (generate_canonical<double, 53> takes one draw of a 2^64
// engine and divides by 2^64), so draws made that way before stay the same.
inline double unit_from_u64(uint64_t bits) {
  const double u = static_cast<double>(bits) * 0x1.0p-64;
  return u < 1.0 ? u : std::nextafter(1.0, 0.0);
}

// A counter-based splitmix64 stream.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  double uniform01() { return unit_from_top53(next()); }  // [0, 1)
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform01()) * (hi - lo); }
  int below(int n) { return static_cast<int>(uniform01() * n); }  // [0, n)

 private:
  uint64_t state_;
};

// ---- stable hashing -----------------------------------------------------------------------------

// FNV-1a over the seed's 8 bytes then the key, finished with splitmix64's mixer (FNV's low bits are
// weak for short keys). Stable across runs, machines and compilers: it decides data splits.
inline uint64_t stable_hash(std::string_view key, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  auto mix_byte = [&h](uint8_t b) {
    h ^= b;
    h *= 0x100000001b3ull;  // FNV prime
  };
  for (int i = 0; i < 8; ++i) mix_byte(static_cast<uint8_t>(seed >> (8 * i)));
  for (const char c : key) mix_byte(static_cast<uint8_t>(c));
  return mix64(h);
}

// A uniform number in [0, 1) from the key's hash.
inline double hash_unit(std::string_view key, uint64_t seed) { return unit_from_top53(stable_hash(key, seed)); }

// ---- named seed streams -------------------------------------------------------------------------
// Each use of a seed derives its own seed here, so two uses never draw alike by accident and a
// multiplier is named once. The values are the ones the code has always used (same draws).
namespace seed_stream {

constexpr uint64_t kStage2Targets = 1315423911ull;  // stage 2: prompt / question choice, per sample and step
constexpr uint64_t kLmRows = 2654435761ull;         // stage lm: the rows of each step (Knuth's multiplicative hash)
constexpr uint64_t kLmRowsPerStep = 97;             //   ... with the step scaled by this
constexpr uint64_t kDemoDatasets = 3;               // the demo's scenes: train, eval, held-out = seed * 3 + 1, 2, 3

// Stage 2: the seed hashed with each sample's key at `step`.
inline uint64_t stage2_targets(uint64_t run_seed, int64_t step) {
  return run_seed * kStage2Targets + static_cast<uint64_t>(step);
}
// Stage lm: the generator's seed at `step` (every rank draws alike).
inline uint64_t lm_rows(uint64_t run_seed, int64_t step) {
  return run_seed * kLmRows + static_cast<uint64_t>(step) * kLmRowsPerStep;
}
// The demo's synthetic datasets: which = 1 train, 2 eval, 3 held-out.
inline uint64_t demo_dataset(uint64_t seed, uint64_t which) { return seed * kDemoDatasets + which; }
// ITM hard negatives: two streams of the step's seed, one per side.
inline uint64_t itm_negative_texts(uint64_t seed) { return seed * 2; }
inline uint64_t itm_negative_images(uint64_t seed) { return seed * 2 + 1; }
// The loader's pick of one caption per sample and epoch (hashed with the sample's key).
inline uint64_t loader_caption_pick(uint64_t seed, int64_t epoch) {
  return seed ^ (kGoldenGamma * static_cast<uint64_t>(epoch + 1));
}

}  // namespace seed_stream
}  // namespace vlm
