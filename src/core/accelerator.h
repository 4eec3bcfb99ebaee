// What a benchmark or a log line needs to know about the device a computation runs on:
// waiting for queued work, and the peak memory it took. CUDA parts exist only in builds
// against a CUDA LibTorch (VLM_WITH_CUDA); elsewhere a CUDA device is refused by name.
#pragma once

#include <cstdint>

namespace c10 { struct Device; }

namespace vlm::accelerator {

// True when this build links LibTorch's CUDA libraries (whether or not a GPU is present).
bool built_with_cuda();

// Blocks until every kernel queued on `device` has finished (CUDA); nothing on the CPU.
void synchronize(const c10::Device& device);

// Starts a new peak-memory window for `device`: CUDA resets the caching allocator's peak;
// the CPU resets the process's peak resident set (Linux /proc/self/clear_refs).
void reset_peak_memory(const c10::Device& device);

// Peak bytes since the last reset: memory allocated by tensors on a CUDA device (the caching
// allocator's allocated-bytes peak, as torch.cuda.max_memory_allocated), or the process's peak
// resident set (VmHWM) on the CPU.
int64_t peak_memory_bytes(const c10::Device& device);

}  // namespace vlm::accelerator
