// `vlm preprocess --model VIT_DIR --out FILE.safetensors IMAGE...`: images -> pixel_values
// (N, 3, H, W) float32 exactly as the model's preprocessor_config.json asks (ViTImageProcessor's
// steps, PIL-exact resize), saved as safetensors: for checking against transformers or feeding
// other tools. Each image is decoded, preprocessed and written before the next is read, so
// memory stays one image whatever N is.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "core/error.h"
#include "data/image.h"
#include "data/preprocess.h"
#include "io/safetensors_stream.h"

namespace {

int run_preprocess(const vlm::cli::Args& args) {
  const std::string model = args.get("--model");
  const std::string out = args.get("--out");
  if (args.positional().empty()) throw vlm::UsageError("no images given", "vlm preprocess --model DIR --out F IMAGE...");
  if (!std::filesystem::is_directory(model)) throw vlm::FileError(model, "not a directory");
  vlm::io::check_output_file(out);  // before any image is decoded
  vlm::data::PreprocessConfig config = vlm::data::load_preprocess_config_from_dir(model);
  config.fast_decode = args.has("--fast-decode");
  vlm::data::DecodeOptions options;
  options.apply_exif = !args.has("--no-exif");
  if (options.min_side_hint == 0) options.min_side_hint = config.decode_hint();
  options.fast_jpeg |= config.fast_decode;

  const std::vector<std::string>& paths = args.positional();
  const auto n = static_cast<int64_t>(paths.size());
  std::unique_ptr<vlm::io::SafetensorsStreamWriter> writer;
  std::vector<float> pixels;
  std::pair<int, int> size{0, 0};  // (W, H) of image 0's output; every image must match it
  for (size_t i = 0; i < paths.size(); ++i) {
    const vlm::data::Image image = vlm::data::decode_image_file(paths[i], options);
    const auto this_size = config.output_size(image.width, image.height);
    if (!writer) {
      size = this_size;
      writer = std::make_unique<vlm::io::SafetensorsStreamWriter>(
          out, "pixel_values", vlm::io::DType::kF32, std::vector<int64_t>{n, 3, size.second, size.first},
          std::map<std::string, std::string>{{"format", "pt"}, {"images", std::to_string(n)}});
      pixels.resize(static_cast<size_t>(3) * size.first * size.second);
    } else if (this_size != size) {
      throw vlm::FileError(paths[i], vlm::str("maps to ", this_size.first, "x", this_size.second, ", image 0 to ",
                                              size.first, "x", size.second),
                           "use a fixed size or a center crop to batch images of different shapes");
    }
    vlm::data::preprocess_into(image, config, pixels.data());
    writer->write({reinterpret_cast<const uint8_t*>(pixels.data()), pixels.size() * sizeof(float)});
  }
  writer->finish();
  std::cout << "wrote pixel_values [" << n << ", 3, " << size.second << ", " << size.first << "] float32 to " << out
            << "\n";
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
