// A tiny synthetic dataset (32-px scenes: 160 training, 8 evaluation, 4 held-out) and the
// run/vision/qformer/data sections of a stage-1 config over it, for the e2e tests that run
// `vlm train`; each test appends the train and schedule sections it varies.
#pragma once

#include <sstream>
#include <string>

#include "train/demo_data.h"

namespace vlm::test {

inline train::DemoData make_tiny_demo_data(const std::string& dir) {
  train::DemoDataOptions o;
  o.out_dir = dir;
  o.image_size = 32;
  o.n_train = 160;
  o.n_eval = 8;
  o.n_heldout = 4;
  return train::make_demo_data(o);
}

struct TinyStage1Options {
  bool deterministic = true;
  bool vision_train = true;  // false: a frozen random ViT
  int vision_layers = 1;
};

inline std::string tiny_stage1_sections(const std::string& dir, const train::DemoData& data,
                                        const TinyStage1Options& o = {}) {
  std::ostringstream y;
  y << "run: {out_dir: " << dir << "/runs, seed: 3, " << (o.deterministic ? "deterministic: true, " : "")
    << "threads: 1}\n"
    << "vision: {image_size: 32, patch_size: 8, hidden_size: 32, num_hidden_layers: " << o.vision_layers
    << ", num_attention_heads: 2, intermediate_size: 64, train: " << (o.vision_train ? "true" : "false") << "}\n"
    << "qformer: {tokenizer: " << data.tokenizer_dir
    << ", num_query_tokens: 4, embed_dim: 16, hidden_size: 32, num_hidden_layers: 1,"
       " num_attention_heads: 2, intermediate_size: 64}\n"
    << "data: {path: " << data.train_dir << ", val_fraction: 0.1, workers: 2}\n";
  return y.str();
}

}  // namespace vlm::test
