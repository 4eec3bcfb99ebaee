// `vlm caption --model RUN IMAGE... [--prompt TEXT]`: a caption per image, or the answer to
// the question given as the prompt, from a stage-2 run. Images stream through in small batches
// (decode, caption, print, forget), so memory does not grow with their number; an image that
// cannot be read is reported on stderr and counted, and the others are still captioned.
#include <iostream>

#include "cli/command.h"
#include "core/error.h"
#include "data/image.h"
#include "data/preprocess_torch.h"
#include "inference/vlm_bundle.h"

namespace {

// Images decoded and captioned together: enough to batch the decoder, few enough that a
// batch of 12-megapixel photos stays in the hundreds of megabytes.
constexpr size_t kImagesPerBatch = 8;

int run_caption(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  if (args.positional().empty()) throw vlm::UsageError("give at least one IMAGE");
  // Malformed flags (NaN, overflow) are refused before the model is loaded.
  for (const char* flag : {"--temperature", "--top-p", "--repetition-penalty"}) (void)args.get_double(flag, 0);
  for (const char* flag : {"--max-new-tokens", "--top-k", "--seed"}) (void)args.get_int(flag, 0);
  auto bundle = vlm::inference::load_vlm_bundle(model);
  auto& g = bundle.generation;
  g.max_new_tokens = args.get_int("--max-new-tokens", g.max_new_tokens);
  g.temperature = args.get_double("--temperature", g.temperature);
  g.top_k = args.get_int("--top-k", g.top_k);
  g.top_p = args.get_double("--top-p", g.top_p);
  g.repetition_penalty = args.get_double("--repetition-penalty", g.repetition_penalty);
  g.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
  if (g.max_new_tokens < 1) throw vlm::UsageError("--max-new-tokens must be >= 1");
  if (g.temperature < 0) throw vlm::UsageError("--temperature must be >= 0 (0 = greedy)");
  if (g.top_k < 0) throw vlm::UsageError("--top-k must be >= 0 (0 = off)");
  if (!(g.top_p > 0 && g.top_p <= 1)) throw vlm::UsageError("--top-p must be in (0, 1]");
  if (!(g.repetition_penalty > 0)) throw vlm::UsageError("--repetition-penalty must be > 0 (1 = off)");
  const std::string prompt = args.get("--prompt", bundle.default_prompt);
  const std::vector<std::string>& paths = args.positional();
  const bool named = paths.size() > 1;
  size_t failed = 0;
  for (size_t start = 0; start < paths.size(); start += kImagesPerBatch) {
    std::vector<vlm::data::Image> images;
    std::vector<std::string> names;
    for (size_t i = start; i < std::min(paths.size(), start + kImagesPerBatch); ++i) {
      try {
        images.push_back(vlm::data::decode_image_file(paths[i]));
        names.push_back(paths[i]);
      } catch (const vlm::Error& e) {  // FileError (unreadable, special file) or ImageError
        std::cerr << "error: " << e.what() << " (skipped)\n";
        ++failed;
      }
    }
    if (images.empty()) continue;
    const at::Tensor pixels = vlm::data::to_pixel_values(images, bundle.preprocess);
    images.clear();
    const auto answers =
        vlm::inference::generate_answers(bundle, pixels, std::vector<std::string>(names.size(), prompt));
    for (size_t i = 0; i < answers.size(); ++i) std::cout << (named ? names[i] + "\t" : std::string()) << answers[i] << "\n";
    std::cout.flush();
  }
  if (failed > 0) {
    std::cerr << "error: " << failed << " of " << paths.size() << " image(s) could not be read; the others were captioned\n";
    return 1;
  }
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "caption",
    .usage = "--model RUN IMAGE... [--prompt TEXT] [generation flags]",
    .summary = "caption images (or answer --prompt about them) with a stage-2 run",
    .flags = {{.name = "--model", .value_name = "PATH", .help = "a stage-2 run (its best checkpoint), its export/ or a checkpoint",
               .required = true},
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
