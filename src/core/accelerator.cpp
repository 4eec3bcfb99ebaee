#include "core/accelerator.h"

#include <c10/core/Device.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

#ifdef VLM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

namespace vlm::accelerator {
namespace {

#ifndef VLM_WITH_CUDA
[[noreturn]] void no_cuda() {
  throw Error("this build of vlm has no CUDA support", "configure against a CUDA LibTorch (README: GPU build)");
}
#else
c10::DeviceIndex index_of(const c10::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}
#endif

int64_t cpu_peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

}  // namespace

bool built_with_cuda() {
#ifdef VLM_WITH_CUDA
  return true;
#else
  return false;
#endif
}

void synchronize(const c10::Device& device) {
  if (!device.is_cuda()) return;
#ifdef VLM_WITH_CUDA
  c10::cuda::CUDAGuard guard(index_of(device));
  c10::cuda::device_synchronize();
#else
  no_cuda();
#endif
}

void reset_peak_memory(const c10::Device& device) {
  if (device.is_cuda()) {
#ifdef VLM_WITH_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(index_of(device));
    return;
#else
    no_cuda();
#endif
  }
  std::ofstream("/proc/self/clear_refs") << "5";  // Linux >= 4.0: reset VmHWM to the current RSS
}

int64_t peak_memory_bytes(const c10::Device& device) {
  if (device.is_cuda()) {
#ifdef VLM_WITH_CUDA
    // Index 0 of each stat array is the aggregate over pool kinds.
    return c10::cuda::CUDACachingAllocator::getDeviceStats(index_of(device)).allocated_bytes[0].peak;
#else
    no_cuda();
#endif
  }
  return cpu_peak_rss_bytes();
}

}  // namespace vlm::accelerator
