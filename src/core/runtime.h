// Process-wide runtime setup: intra-op threads, seeding, device choice.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace c10 { struct Device; }

namespace vlm::runtime {

// Sets LibTorch's intra-op thread count. 0 = the VLM_THREADS environment variable if set,
// else every core (1.13 starts with half of them: LIBTORCH.md).
int configure_threads(int requested = 0);

// Keeps memory the process frees in glibc's heap for its next allocations instead of handing it
// back to the kernel (mmap threshold at glibc's 32 MiB maximum, no trimming). A training step
// frees and allocates hundreds of MB; given back, every step maps and zeroes those pages anew:
// page faults that cost more than some of the arithmetic. The resident set then stays at its
// peak, which the step reaches anyway. No-op without glibc.
void keep_freed_memory();

// Seeds LibTorch's generators (CPU and CUDA) and returns the seed.
uint64_t seed_everything(uint64_t seed);

// Seeds LibTorch's CPU generator for the scope's lifetime and puts its previous state back at
// the end: rebuilding a trained model's random initial weights exactly, without changing what
// the caller draws next.
class ScopedCpuSeed {
 public:
  explicit ScopedCpuSeed(uint64_t seed);
  ~ScopedCpuSeed();
  ScopedCpuSeed(const ScopedCpuSeed&) = delete;
  ScopedCpuSeed& operator=(const ScopedCpuSeed&) = delete;

 private:
  at::Tensor saved_;
};

// "auto" picks cuda:0 when LibTorch sees a GPU, else cpu; "cpu", "cuda", "cuda:N" are taken as given.
c10::Device parse_device(const std::string& spec);
std::string describe_build();

}  // namespace vlm::runtime
