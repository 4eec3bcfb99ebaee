// Data parallel over processes started with torchrun's environment variables (RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), talking through c10d: a TCPStore hosted by
// rank 0 and ProcessGroupGloo (ProcessGroupNCCL for CUDA tensors where the LibTorch has it).
// LibTorch has no C++ DistributedDataParallel, so gradients are all-reduced here after backward
// in flattened buckets. World size 1 means no store and no process group: every call is a no-op.
#pragma once

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vlm::train {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's elastic agent already hosts the store on MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE
  // is "True" under its static rendezvous, the default): every rank then joins it as a client,
  // under the key prefix torch's own workers use ("/worker/attempt_<TORCHELASTIC_RESTART_COUNT>").
  bool use_agent_store = false;
  int restart_count = 0;
};

// Reads the torchrun variables; absent ones keep the defaults above (one process). Throws
// vlm::Error on malformed or inconsistent values (e.g. RANK >= WORLD_SIZE).
DistEnv dist_env_from_environment();

// How all_reduce_gradients combines ranks. kMean suits a loss averaged over the local batch
// (the contrastive loss, the mean CE). kSum suits a loss already divided by a count summed over
// every rank (causal_lm_loss with supervised_tokens_in_batch(..., dist)): averaging would
// divide by the world size twice.
enum class GradReduction { kMean, kSum };

// True when this build has a c10d backend for several processes (Gloo, or NCCL for GPUs).
bool data_parallel_available();

class Distributed;

// For a loss summed over target tokens and divided by their count across ranks (stage 1's
// caption loss, stage 2, stage lm): sums `tokens` (this rank's count, a tensor on the collective
// device or the CPU) over every rank in place, and returns the factor that turns the trainer's
// gradient mean over ranks back into a sum: the world size, or 1 without data parallelism.
double sum_tokens_across_ranks(const at::Tensor& tokens, const Distributed* dist);

class Distributed {
 public:
  // Rank 0 hosts the TCPStore at master_addr:master_port; every rank connects and builds the
  // process group. `cuda` picks NCCL when compiled in (else Gloo, which copies through the host);
  // with NCCL each rank uses cuda:LOCAL_RANK and every tensor passed here must live there.
  // Blocks until all ranks have joined or `timeout` passes (then throws vlm::Error).
  explicit Distributed(const DistEnv& env, bool cuda = false,
                       std::chrono::milliseconds timeout = std::chrono::minutes(5));
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_main() const { return env_.rank == 0; }
  bool enabled() const { return env_.world_size > 1; }
  std::string backend_name() const;  // "gloo", "nccl", or "none"

  // Averages (or sums) the gradients of `params` across ranks in flattened buckets of about
  // bucket_bytes (grouped by dtype and device). Call once per optimizer step, after the last
  // micro-batch's backward. Parameters without requires_grad are skipped; a gradient missing
  // on every rank stays missing (the optimizer skips the parameter, as on one process); one
  // missing on some ranks only counts as zeros there.
  void all_reduce_gradients(const std::vector<at::Tensor>& params, GradReduction reduction = GradReduction::kMean,
                            int64_t bucket_bytes = 25 << 20) const;
  // Copies rank 0's values into `tensors` (parameters and buffers) on every rank.
  void broadcast_parameters(const std::vector<at::Tensor>& tensors) const;
  // In-place sum across ranks.
  void all_reduce_sum_(const at::Tensor& tensor) const;
  // Mean of a host value across ranks (metrics).
  double all_reduce_mean(double value) const;
  // (world_size * d0, ...) concatenation of every rank's tensor along dim 0, no gradient.
  // Every rank must pass the same shape.
  at::Tensor all_gather(const at::Tensor& tensor) const;
  // The same with gradients (OpenCLIP's gather_with_grad): backward sums the incoming gradient
  // across ranks and returns this rank's slice.
  at::Tensor all_gather_with_grad(const at::Tensor& tensor) const;
  void barrier() const;
  // Where tensors handed to the collectives above must live (CUDA for NCCL, else the CPU).
  c10::Device collective_device() const;

  struct Impl;  // c10d objects; kept out of this header (distributed.cpp)

 private:
  DistEnv env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vlm::train
