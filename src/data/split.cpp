// Stable hash split (FNV-1a + splitmix64 finaliser); see split.h for why not a random split.
#include "data/split.h"

#include "core/error.h"
#include "core/random.h"
#include "data/sources.h"

namespace vlm::data {

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
