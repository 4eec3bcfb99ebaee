// Process-wide runtime setup: intra-op threads, seeding, device choice.
#pragma once

#include <cstdint>
#include <string>

namespace c10 { struct Device; }

namespace vlm::runtime {

// Sets LibTorch's intra-op thread count. 0 = the VLM_THREADS environment variable if set,
// else every core (1.13 starts with half of them: LIBTORCH.md).
int configure_threads(int requested = 0);

// Seeds LibTorch's generators (CPU and CUDA) and returns the seed.
uint64_t seed_everything(uint64_t seed);

// "auto" picks cuda:0 when LibTorch sees a GPU, else cpu; "cpu", "cuda", "cuda:N" are taken as given.
c10::Device parse_device(const std::string& spec);
std::string describe_build();

}  // namespace vlm::runtime
