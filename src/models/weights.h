// The strict weight loader every model uses: module tensors carry Hugging Face names, a small
// declarative NameTable beside each model says how the checkpoint differs (a task prefix such as
// "vit.", legacy renames, tensors skipped knowingly, tied or copied weights, new weights), and
// loading reports every missing, unexpected and mis-shaped tensor at once in one FileError.
// Follows the strictness of whisper.cpp / llama.cpp loaders rather than transformers' warn-and-go.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torch::nn { class Module; }
namespace vlm::io { class TensorStore; }

namespace vlm::models {

// A checkpoint-name pattern: '*' matches any run of characters, all else literally ("classifier.*").
bool glob_match(std::string_view pattern, std::string_view name);

struct NameTable {
  // A pattern with the reason it is there; the reason appears in reports.
  struct Rule {
    std::string pattern;
    std::string reason;
  };
  // Checkpoint name (after the prefix) -> module name: ECMAScript regex and replacement,
  // e.g. {R"(LayerNorm\.gamma$)", "LayerNorm.weight"} for checkpoints saved before 2019.
  struct Rename {
    std::string from;
    std::string to;
  };
  // A module tensor whose name matches `target` (regex) and that the checkpoint lacks is filled
  // from the checkpoint tensor named by the replacement `source`, e.g. the Q-Former's query FFN
  // from the text FFN. `tied`: the module shares the tensor (lm_head <- embed_tokens), so it is
  // not written by save_weights either, as transformers does.
  struct Fallback {
    std::string target;
    std::string source;
    std::string reason = {};
    bool tied = false;
  };

  std::string model = {};                 // named in errors, e.g. "ViT"
  std::string prefix = {};                // task-model prefix in front of module names, e.g. "vit."; stripped when present
  std::vector<Rename> renames = {};
  std::vector<Rule> skip = {};            // checkpoint tensors ignored knowingly (glob, with or without prefix)
  std::vector<Fallback> fallbacks = {};
  std::vector<Rule> optional = {};        // module tensors (glob) that may be absent and then keep their init
  std::vector<Rule> computed = {};        // module buffers (glob) never stored: rebuilt at construction
};

// What a successful load did, for logs and tests.
struct LoadReport {
  size_t loaded = 0;                                             // module tensors filled from the file
  std::vector<std::pair<std::string, std::string>> skipped;      // checkpoint name, reason
  std::vector<std::pair<std::string, std::string>> filled_from;  // module name, checkpoint source
  std::vector<std::string> kept_init;                            // optional module tensors absent from the file
  std::string summary() const;                                   // one line
};

// Copies every checkpoint tensor into the module tensor of the same (mapped) name, converting
// dtype (bf16/f16 file -> module dtype) and device. Throws one FileError listing all missing,
// unexpected, duplicate and mis-shaped tensors (name, expected and actual shape, file) with a hint;
// the module is untouched when it throws.
LoadReport load_weights(torch::nn::Module& module, const io::TensorStore& store, const NameTable& table);
// `path`: a .safetensors file or an HF folder (sharded or not).
LoadReport load_weights(torch::nn::Module& module, const std::string& path, const NameTable& table);

// Writes the module's tensors under their HF names (safetensors, metadata format=pt, atomically):
// `computed` buffers and tied copies are left out, as transformers does. `with_prefix` writes the
// task-model names (e.g. "vit.embeddings...") instead of the base-model ones.
void save_weights(const torch::nn::Module& module, const std::string& path, const NameTable& table,
                  bool with_prefix = false, const std::map<std::string, std::string>& metadata = {});

// Module parameter and buffer names the table expects in a checkpoint (sorted).
std::vector<std::string> expected_names(const torch::nn::Module& module, const NameTable& table);

}  // namespace vlm::models
