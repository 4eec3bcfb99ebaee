// The demo's inputs, made from nothing: synthetic scene datasets (data/synthetic.h) written
// as ordinary image folders with captions.jsonl, and a word-level tokenizer with a ChatML
// chat template built from their text, saved as an HF tokenizer folder. Everything after
// this point runs through the same loaders as user data.
#pragma once

#include <cstdint>
#include <string>

namespace vlm::train {

struct DemoData {
  std::string train_dir;      // train-split scenes (no held-out colour x shape pair)
  std::string eval_dir;       // unseen scenes of the same distribution, for the final evaluation
  std::string heldout_dir;    // scenes that contain a held-out pair (composition test)
  std::string tokenizer_dir;  // tokenizer.json + tokenizer_config.json
};

struct DemoDataOptions {
  std::string out_dir;
  uint64_t seed = 0;
  int image_size = 64;
  int n_train = 12000;
  int n_eval = 600;
  int n_heldout = 200;
};

// The canonical ChatML template (SmolLM-Instruct's), written into the demo tokenizer's config.
extern const char* const kChatMlTemplate;

// Writes what is missing (reuses complete folders from an earlier run with the same options).
DemoData make_demo_data(const DemoDataOptions& options);

}  // namespace vlm::train
