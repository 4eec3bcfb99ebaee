// bench_stage_step with the forward, backward and gradient clipping of the step captured once
// in a CUDA graph and replayed (the batch has static shapes), the optimizer run eagerly after
// each replay: at batch 8 a step is thousands of small kernels, and a replay launches them all
// at once instead of one by one from the host. Same workloads and output as bench_stage_step,
// with "impl": "cpp-graph". Needs a CUDA build; elsewhere it says so and exits with 2.
//   bench_stage_step_graph --stage 1|2 [--lm smollm|qwen3] [--batch 8] [--steps 20] [--warmup 5]
#include <torch/torch.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "core/accelerator.h"
#include "core/runtime.h"
#include "core/torch_compat.h"
#include "stage_workloads.h"
#include "train/step_utils.h"

#ifdef VLM_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

int main(int argc, char** argv) {
#ifndef VLM_WITH_CUDA
  (void)argc;
  (void)argv;
  std::cerr << "bench_stage_step_graph: needs a CUDA build\n";
  return 2;
#else
  using namespace vlm;
  try {
    bench::Args a = bench::parse(argc, argv);
    if (a.device == "auto") a.device = "cuda";
    runtime::configure_threads(a.threads);
    runtime::seed_everything(0);
    const c10::Device device = runtime::parse_device(a.device);
    if (!device.is_cuda()) throw std::invalid_argument("CUDA graphs need --device cuda");
    const bool bf16 = a.precision == "bf16";
    bench::Workload w = a.stage == 1 ? bench::stage1(a, device) : bench::stage2(a, device);
    bench::Training t = bench::make_training(w);
    const std::vector<at::Tensor>& params = t.params;
    auto& optimizer = t.optimizer;
    at::Tensor loss, norm;
    auto forward_backward = [&] {
      {
        compat::AutocastGuard autocast(device.type(), bf16);
        loss = w.loss();
      }
      loss.backward();
      norm = train::clip_grad_norm(params, w.clip);
    };
    // Warm-up on a side stream (cuBLAS handles, allocator pools), then capture on it.
    c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
    {
      c10::cuda::CUDAStreamGuard guard(side);
      for (int64_t i = 0; i < 3; ++i) {
        train::zero_grads(params);
        forward_backward();
        optimizer->step();
      }
    }
    accelerator::synchronize(device);
    at::cuda::CUDAGraph graph;
    {
      c10::cuda::CUDAStreamGuard guard(side);
      train::zero_grads(params);  // backward inside the capture allocates the gradients it rewrites on replay
      graph.capture_begin();
      forward_backward();
      graph.capture_end();
    }
    accelerator::synchronize(device);
    auto step = [&] {
      graph.replay();
      if (train::all_finite({loss, norm})) optimizer->step();
    };
    nlohmann::json out = bench::time_steps(step, a, device, "cpp-graph");
    out["trainable_params"] = t.trainable;
    out["loss"] = loss.item<double>();
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_stage_step_graph: " << e.what() << "\n";
    return 1;
  }
#endif
}
