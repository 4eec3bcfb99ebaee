// Stable hash split (FNV-1a + splitmix64 finaliser); see split.h for why not a random split.
#include "data/split.h"

#include "core/error.h"
#include "core/mix64.h"
#include "data/sources.h"

namespace vlm::data {

uint64_t stable_hash(std::string_view key, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  auto mix_byte = [&h](uint8_t b) {
    h ^= b;
    h *= 0x100000001b3ULL;  // FNV prime
  };
  for (int i = 0; i < 8; ++i) mix_byte(static_cast<uint8_t>(seed >> (8 * i)));
  for (char c : key) mix_byte(static_cast<uint8_t>(c));
  return mix64(h);  // splitmix64's finaliser: FNV's low bits are weak for short keys
}

double hash_unit(std::string_view key, uint64_t seed) {
  return static_cast<double>(stable_hash(key, seed) >> 11) * 0x1.0p-53;
}

bool in_validation(std::string_view key, double val_fraction, uint64_t seed) {
  return hash_unit(key, seed) < val_fraction;
}

SplitIndices split_dataset(const Dataset& dataset, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw ConfigError("data.val_fraction", str("must be in [0, 1), got ", val_fraction));
  SplitIndices out;
  for (size_t i = 0; i < dataset.samples.size(); ++i)
    (in_validation(dataset.samples[i].key, val_fraction, seed) ? out.validation : out.train)
        .push_back(static_cast<int64_t>(i));
  return out;
}

}  // namespace vlm::data
