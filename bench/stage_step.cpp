// One training step of stage 1 or stage 2 at the mission's real sizes, with random weights and
// synthetic fixed-shape batches, through the trainer's own pieces: the task's forward (ViT
// frozen under no-grad, Q-Former, adapter, LM with LoRA r=64 alpha=128 dropout 0.1 on every
// linear layer), bf16 autocast where asked, the losses, backward, the gradient norm and clip,
// the non-finite check (the step's one host sync) and the multi-tensor Adam/AdamW over the
// stage's parameter groups. Prints one JSON line: median step time, samples/s, peak memory
// (GPU: tensors' peak as torch.cuda.max_memory_allocated; CPU: the process's peak resident set).
// bench/python/baseline.py runs the same workload with transformers + peft.
//   bench_stage_step --stage 1|2 [--lm smollm|qwen3] [--batch 8] [--steps 20] [--warmup 5]
//                    [--device cpu|cuda] [--precision bf16|fp32] [--threads N] [--frozen-fp32] [--cached-features]
//                    [--text-len 32] [--prompt-len 32] [--target-len 24]
#include <torch/torch.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "core/runtime.h"
#include "core/torch_compat.h"
#include "stage_workloads.h"
#include "train/step_utils.h"

int main(int argc, char** argv) {
  using namespace vlm;
  try {
    const bench::Args a = bench::parse(argc, argv);
    runtime::keep_freed_memory();  // as `vlm` does
    runtime::configure_threads(a.threads);
    runtime::seed_everything(0);
    const c10::Device device = runtime::parse_device(a.device);
    const bool bf16 = a.precision == "bf16";
    bench::Workload w = a.stage == 1 ? bench::stage1(a, device) : bench::stage2(a, device);
    bench::Training t = bench::make_training(w);
    auto step = [&] {  // Trainer::train_step without the data loader
      train::zero_grads(t.params);
      at::Tensor loss;
      {
        compat::AutocastGuard autocast(device.type(), bf16);
        loss = w.loss();
      }
      loss.backward();
      const at::Tensor norm = train::clip_grad_norm(t.params, w.clip);
      if (train::all_finite({loss, norm})) t.optimizer->step();
    };
    nlohmann::json out = bench::time_steps(step, a, device, "cpp");
    out["trainable_params"] = t.trainable;
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_stage_step: " << e.what() << "\n";
    return 1;
  }
}
