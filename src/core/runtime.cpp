#include "core/runtime.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <climits>
#include <cstdlib>
#include <thread>

#include "core/error.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace vlm::runtime {

void keep_freed_memory() {
#ifdef __GLIBC__
  // Measured (bench_stage_step --stage 1 --precision bf16 --cached-features, 2 threads): 1.74 CPU-s
  // per step with glibc's defaults, 1.21-1.27 with these; minor faults over the whole run 0.93 M
  // against 0.65 M, about the process's peak in 4 KiB pages.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

int configure_threads(int requested) {
  int n = requested;
  if (n <= 0) {
    if (const char* env = std::getenv("VLM_THREADS"); env != nullptr && *env != '\0') n = std::atoi(env);
  }
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  return n;
}

uint64_t seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  return seed;
}

ScopedCpuSeed::ScopedCpuSeed(uint64_t seed) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  saved_ = gen.get_state();
  gen.set_current_seed(seed);
}

ScopedCpuSeed::~ScopedCpuSeed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(saved_);
}

c10::Device parse_device(const std::string& spec) {
  if (spec.empty() || spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  try {
    torch::Device device(spec);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw Error("device '" + spec + "' asked for, but this LibTorch sees no CUDA GPU", "use --device cpu");
    }
    return device;
  } catch (const c10::Error&) {
    throw UsageError("unknown device '" + spec + "'", "use auto, cpu, cuda or cuda:N");
  }
}

std::string describe_build() {
  const int threads = torch::get_num_threads();
  return str("LibTorch ", TORCH_VERSION, ", ", threads, threads == 1 ? " thread" : " threads", ", CUDA ",
             torch::cuda::is_available() ? "available" : "not available");
}

}  // namespace vlm::runtime
