// `vlm forward --model DIR --inputs IN.safetensors --out OUT.safetensors`: one forward pass of any
// supported HF model folder (config.json's model_type: vit, distilbert, bert, llama, qwen3) on
// tensors from a safetensors file, writing last_hidden_state (and logits for causal LMs) in fp32.
// It is how outputs are compared with transformers' (tools/parity) and inspected by hand.
#include <torch/torch.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "io/tensor_store.h"
#include "models/bert.h"
#include "models/decoder.h"
#include "models/hf_config.h"
#include "models/peft.h"
#include "models/vit.h"

namespace {

using vlm::str;

at::Tensor require(const vlm::io::TensorStore& in, const std::string& name, const std::string& family) {
  if (!in.contains(name))
    throw vlm::FileError(in.path(), str("has no '", name, "' tensor"), str("a ", family, " model reads '", name, "'"));
  return in.get(name).clone();
}

at::Tensor optional_tensor(const vlm::io::TensorStore& in, const std::string& name) {
  return in.contains(name) ? in.get(name).clone() : at::Tensor();
}

int run_forward(const vlm::cli::Args& args) {
  const std::string model_dir = args.get("--model");
  const std::string inputs = args.get("--inputs");
  const std::string out_path = args.get("--out");
  const std::string type = vlm::models::HfConfig::load(model_dir).get_string("model_type", "");
  const auto in = vlm::io::TensorStore::open(inputs);
  torch::NoGradGuard no_grad;
  std::vector<std::pair<std::string, at::Tensor>> out;

  if (type == "vit") {
    auto vit = vlm::models::load_vit(model_dir);
    const at::Tensor hidden = vit.model->forward(require(in, "pixel_values", "ViT").to(at::kFloat));  // (B, 1 + P, D)
    out.emplace_back("last_hidden_state", hidden.to(at::kFloat));
    if (vit.config.add_pooling_layer) out.emplace_back("pooler_output", vit.model->pool(hidden).to(at::kFloat));
  } else if (type == "distilbert" || type == "bert") {
    auto enc = vlm::models::load_text_encoder(model_dir);
    const at::Tensor hidden = enc.model->forward(require(in, "input_ids", type).to(at::kLong),
                                                 optional_tensor(in, "attention_mask"),
                                                 optional_tensor(in, "token_type_ids"));  // (B, T, D)
    out.emplace_back("last_hidden_state", hidden.to(at::kFloat));
    if (enc.dims.pooler) out.emplace_back("pooler_output", enc.model->pool(hidden).to(at::kFloat));
  } else if (type == "llama" || type == "qwen3") {
    auto lm = vlm::models::load_decoder(model_dir);
    if (const auto adapter = args.maybe("--adapter")) {
      vlm::models::load_peft_adapter(*lm.model, *adapter);
      lm.model->eval();
    }
    at::Tensor mask = optional_tensor(in, "attention_mask");
    const auto result = lm.model->forward({.input_ids = require(in, "input_ids", type).to(at::kLong),
                                           .attention_mask = mask.defined() ? mask.to(at::kLong) : mask});
    out.emplace_back("last_hidden_state", result.last_hidden_state.to(at::kFloat));
    out.emplace_back("logits", result.logits.to(at::kFloat));
  } else {
    throw vlm::FileError(vlm::models::config_json_path(model_dir), str("model_type '", type, "' is not supported"),
                         "supported: vit, distilbert, bert, llama, qwen3");
  }
  for (auto& [name, tensor] : out) tensor = tensor.contiguous();
  vlm::io::save_tensors(out_path, out, {{"format", "pt"}, {"model_type", type}});
  for (const auto& [name, tensor] : out) std::cout << name << " " << tensor.sizes() << "\n";
  return 0;
}

const bool kRegistered = vlm::cli::register_command({
    .name = "forward",
    .usage = "--model DIR --inputs IN.safetensors --out OUT.safetensors [--adapter PEFT_DIR]",
    .summary = "run one forward pass of an HF model folder on tensors from a safetensors file",
    .flags = {{.name = "--model", .value_name = "DIR",
               .help = "HF folder: config.json (model_type vit, distilbert, bert, llama, qwen3) + safetensors", .required = true},
              {.name = "--inputs", .value_name = "FILE",
               .help = "safetensors with pixel_values (B,3,H,W) or input_ids (B,T) [+ attention_mask]", .required = true},
              {.name = "--out", .value_name = "FILE",
               .help = "safetensors to write: last_hidden_state (+ logits for causal LMs) in float32", .required = true},
              {"--adapter", "DIR", "a PEFT LoRA adapter folder to apply to a causal LM"}},
    .run = run_forward,
});

}  // namespace
