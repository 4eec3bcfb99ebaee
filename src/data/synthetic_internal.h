// Deterministic randomness for the synthetic scenes: core/random.h's SplitMix over a seed mixed
// from (seed, stream, index) by mix_seed, uniform draws computed from raw bits (std::
// distributions are implementation-defined, so they could change the data between compilers).
#pragma once

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "data/synthetic.h"

namespace vlm::data {

}  // namespace vlm::data
