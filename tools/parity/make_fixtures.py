#!/usr/bin/env python3
"""Parity fixtures for vlm's models: tiny random Hugging Face models of every family vlm loads,
saved with save_pretrained (safetensors) together with fixed inputs and transformers' outputs.

Needs torch, transformers (>= 4.51, for Qwen3) and peft, which the GPU check machines have and
the development machines do not. Run from the repository root:

    python3 tools/parity/make_fixtures.py            # writes tests/fixtures/parity/<family>/

Each <family>/ folder holds the model (config.json + model.safetensors), inputs.safetensors and
outputs.safetensors; tests/unit/decoder/parity_test.cpp compares vlm's outputs with them in fp32
(max|d| <= 1e-4 on non-padding positions) and skips the families whose folder is absent.

Families: vit (ViTModel with pooler), distilbert (DistilBertModel), bert (BertModel with pooler),
llama (LlamaForCausalLM, untied head, llama3 RoPE scaling, GQA), qwen3 (Qwen3ForCausalLM, tied head,
q_norm/k_norm, head_dim != hidden/heads), llama_lora (a PEFT LoRA adapter with non-zero B on the
llama model, saved as PEFT saves it; its folder holds the adapter and the outputs with it).
Causal-LM inputs are left-padded; position_ids are passed as transformers' generate computes them
(cumsum(mask) - 1), which is what vlm's decoder does from the mask. Outputs also hold an 8-token
greedy continuation (generate, do_sample=False, eos 2, pad 0).
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file

SEED = 1234
VOCAB = 100


def randomize(model, scale=0.05):
    """Moves every parameter off its init (norm weights 1, biases 0) so loading mistakes show."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * scale)


def save(folder, name, tensors):
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, os.path.join(folder, name),
              metadata={"format": "pt"})


def text_inputs(right_padded):
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(3, VOCAB, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    if right_padded:
        mask[1, 5:] = 0
        ids[1, 5:] = 0
    else:  # left padding, as batched generation uses
        mask[1, :2] = 0
        ids[1, :2] = 0
    return ids, mask


def generate_positions(mask):
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)


def make_vit(root):
    from transformers import ViTConfig, ViTModel
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    image_size=32, patch_size=8, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = ViTModel(cfg, add_pooling_layer=True).eval()
    randomize(model)
    folder = os.path.join(root, "vit")
    model.save_pretrained(folder, safe_serialization=True)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        out = model(pixel_values=pixels)
    save(folder, "inputs.safetensors", {"pixel_values": pixels})
    save(folder, "outputs.safetensors", {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output})


def make_text_encoder(root, family):
    if family == "distilbert":
        from transformers import DistilBertConfig as Config, DistilBertModel as Model
        cfg = Config(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
                     dropout=0.0, attention_dropout=0.0)
    else:
        from transformers import BertConfig as Config, BertModel as Model
        cfg = Config(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = Model(cfg, attn_implementation="eager").eval()
    randomize(model)
    folder = os.path.join(root, family)
    model.save_pretrained(folder, safe_serialization=True)
    ids, mask = text_inputs(right_padded=True)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    outputs = {"last_hidden_state": out.last_hidden_state}
    if getattr(out, "pooler_output", None) is not None:
        outputs["pooler_output"] = out.pooler_output
    save(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save(folder, "outputs.safetensors", outputs)


def lm_outputs(model, ids, mask):
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=generate_positions(mask), output_hidden_states=True)
        greedy = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, do_sample=False, num_beams=1,
                                eos_token_id=2, pad_token_id=0, temperature=None, top_p=None, top_k=None)
    return {"last_hidden_state": out.hidden_states[-1], "logits": out.logits,
            "greedy_tokens": greedy[:, ids.shape[1]:].to(torch.int64)}


def make_causal_lm(root, family):
    common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                  attention_dropout=0.0)
    if family == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM
        cfg = LlamaConfig(**common, rms_norm_eps=1e-5, tie_word_embeddings=False, rope_theta=10000.0,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
        model = LlamaForCausalLM(cfg)
    else:
        from transformers import Qwen3Config, Qwen3ForCausalLM
        cfg = Qwen3Config(**common, head_dim=16, rms_norm_eps=1e-6, tie_word_embeddings=True, rope_theta=1000000.0)
        model = Qwen3ForCausalLM(cfg)
    model.config._attn_implementation = "eager"
    model.eval()
    randomize(model)
    folder = os.path.join(root, family)
    model.save_pretrained(folder, safe_serialization=True)
    ids, mask = text_inputs(right_padded=False)
    save(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save(folder, "outputs.safetensors", lm_outputs(model, ids, mask))
    return model, ids, mask


def make_lora(root, base, ids, mask):
    from peft import LoraConfig, get_peft_model
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM",
                     init_lora_weights=False)  # False: B random too, so the adapter changes the outputs
    model = get_peft_model(base, cfg).eval()
    folder = os.path.join(root, "llama_lora")
    model.save_pretrained(folder, safe_serialization=True)
    save(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save(folder, "outputs.safetensors", lm_outputs(model, ids, mask))
    with open(os.path.join(folder, "base_model.txt"), "w") as f:
        f.write("../llama\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="tests/fixtures/parity", help="output root (default: %(default)s)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(SEED)
    make_vit(args.out)
    make_text_encoder(args.out, "distilbert")
    make_text_encoder(args.out, "bert")
    llama, ids, mask = make_causal_lm(args.out, "llama")
    make_causal_lm(args.out, "qwen3")
    make_lora(args.out, llama, ids, mask)
    import transformers, peft
    with open(os.path.join(args.out, "versions.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                   "seed": SEED}, f, indent=2)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
