// `vlm preprocess --model VIT_DIR --out FILE.safetensors IMAGE...`: images -> pixel_values
// (N, 3, H, W) float32 exactly as the model's preprocessor_config.json asks (ViTImageProcessor's
// steps, PIL-exact resize), saved as safetensors: for checking against transformers or feeding
// other tools.
#include <filesystem>
#include <iostream>

#include <ATen/core/Tensor.h>

#include "cli/command.h"
#include "core/error.h"
#include "data/preprocess_torch.h"
#include "io/tensor_store.h"

namespace {

int run_preprocess(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  const std::string out = args.get("--out");
  if (model.empty()) throw vlm::UsageError("--model VIT_DIR is required", "the folder with preprocessor_config.json");
  if (out.empty()) throw vlm::UsageError("--out FILE.safetensors is required");
  if (args.positional().empty()) throw vlm::UsageError("no images given", "vlm preprocess --model DIR --out F IMAGE...");
  if (!std::filesystem::is_directory(model)) throw vlm::FileError(model, "not a directory");
  vlm::data::PreprocessConfig config = vlm::data::load_preprocess_config_from_dir(model);
  config.fast_decode = args.has("--fast-decode");
  vlm::data::DecodeOptions options;
  options.apply_exif = !args.has("--no-exif");
  const at::Tensor pixel_values = vlm::data::pixel_values_from_files(args.positional(), config, options);
  vlm::io::save_tensors(out, {{"pixel_values", pixel_values}},
                        {{"format", "pt"}, {"images", std::to_string(args.positional().size())}});
  std::cout << "wrote pixel_values [" << pixel_values.size(0) << ", 3, " << pixel_values.size(2) << ", "
            << pixel_values.size(3) << "] float32 to " << out << "\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "preprocess",
    .usage = "--model VIT_DIR --out FILE.safetensors [--fast-decode] [--no-exif] IMAGE...",
    .summary = "turn images into the vision model's pixel_values (as its preprocessor_config.json says)",
    .flags = {{.name = "--model", .value_name = "DIR",
               .help = "model folder with preprocessor_config.json (ViT defaults when it has none)", .required = true},
              {.name = "--out", .value_name = "FILE",
               .help = "safetensors file to write, holding pixel_values [N, 3, H, W] float32", .required = true},
              {"--fast-decode", "", "decode big JPEGs at a reduced scale with the fast IDCT (not PIL-exact)"},
              {"--no-exif", "", "ignore EXIF orientation, as transformers does (default: rotate upright)"}},
    .run = run_preprocess,
});

}  // namespace
