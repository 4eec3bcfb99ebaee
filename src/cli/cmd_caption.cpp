// `vlm caption --model RUN IMAGE... [--prompt TEXT]`: a caption per image, or the answer to
// the question given as the prompt, from a stage-2 run.
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "data/image.h"
#include "data/preprocess_torch.h"
#include "inference/vlm_bundle.h"

namespace {

int run_caption(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  if (model.empty()) throw vlm::UsageError("--model RUN is required");
  if (args.positional().empty()) throw vlm::UsageError("give at least one IMAGE");
  auto bundle = vlm::inference::load_vlm_bundle(model);
  auto& g = bundle.generation;
  g.max_new_tokens = args.get_int("--max-new-tokens", g.max_new_tokens);
  g.temperature = args.get_double("--temperature", g.temperature);
  g.top_k = args.get_int("--top-k", g.top_k);
  g.top_p = args.get_double("--top-p", g.top_p);
  g.repetition_penalty = args.get_double("--repetition-penalty", g.repetition_penalty);
  g.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
  std::vector<vlm::data::Image> images;
  for (const auto& path : args.positional()) images.push_back(vlm::data::decode_image_file(path));
  const at::Tensor pixels = vlm::data::to_pixel_values(images, bundle.preprocess);
  const std::string prompt = args.get("--prompt", bundle.default_prompt);
  const auto answers = vlm::inference::generate_answers(
      bundle, pixels, std::vector<std::string>(images.size(), prompt));
  for (size_t i = 0; i < answers.size(); ++i) {
    std::cout << (answers.size() > 1 ? args.positional()[i] + "\t" : std::string()) << answers[i] << "\n";
  }
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "caption",
    .usage = "--model RUN IMAGE... [--prompt TEXT] [generation flags]",
    .summary = "caption images (or answer --prompt about them) with a stage-2 run",
    .flags = {{"--model", "PATH", "a stage-2 run (its best checkpoint), its export/ or a checkpoint"},
              {"--prompt", "TEXT", "user prompt or question (default: the first training prompt)"},
              {"--max-new-tokens", "N", "tokens generated at most"},
              {"--temperature", "T", "sampling temperature, 0 = greedy"},
              {"--top-k", "K", "keep the K most likely tokens, 0 = off"},
              {"--top-p", "P", "nucleus sampling mass"},
              {"--repetition-penalty", "R", "penalty on repeated tokens, 1 = off"},
              {"--seed", "S", "sampling seed"}},
    .run = run_caption,
});

}  // namespace
