// Train/validation split by a stable hash of each sample's key: a sample's side depends only on
// its key, the fraction and the seed, so adding samples never moves existing ones (unlike the
// reference's random_split with seed 42, which reshuffles everything when the data grows).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vlm::data {

struct Dataset;

// True when the key belongs to the validation side (core/random.h's hash_unit < val_fraction).
bool in_validation(std::string_view key, double val_fraction, uint64_t seed);

struct SplitIndices {
  std::vector<int64_t> train;        // indices into dataset.samples, ascending
  std::vector<int64_t> validation;
};

// Splits the dataset; throws ConfigError when val_fraction is outside [0, 1).
SplitIndices split_dataset(const Dataset& dataset, double val_fraction, uint64_t seed);

}  // namespace vlm::data
