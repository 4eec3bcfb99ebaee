#!/usr/bin/env python3
"""Parity fixtures for vlm's models: tiny random Hugging Face models of every family vlm loads,
saved with save_pretrained (config.json + model.safetensors) together with fixed inputs and the
outputs transformers computes for them.

Needs torch, transformers (5.x; 4.51+ should work) and peft, which the GPU check machines have and
the development machines do not. Runs on the CPU in fp32, needs no network. From the repository root:

    python3 tools/parity/make_fixtures.py OUT_DIR     # default OUT_DIR: tests/fixtures/parity

OUT_DIR/<family>/ holds the model (config.json + model.safetensors), inputs.safetensors and
outputs.safetensors; tests/unit/decoder/parity_test.cpp reads them from tests/fixtures/parity/<family>/
and compares vlm's outputs in fp32 (max|d| <= 1e-4 on non-padding positions, greedy tokens equal),
skipping the families whose folder is absent. OUT_DIR/manifest.json records versions, seed, checks
and file sizes (all fixtures together are a few hundred KB).

Families and tensors (inputs: int64 ids/mask, fp32 pixels; outputs: fp32, greedy_tokens int64):
  vit         ViTModel with pooler          inputs  pixel_values (2,3,32,32)
                                            outputs last_hidden_state (2,17,32), pooler_output (2,32)
  distilbert  DistilBertModel               inputs  input_ids, attention_mask (2,7), right-padded
                                            outputs last_hidden_state (2,7,32)
  bert        BertModel with pooler         same inputs; outputs last_hidden_state, pooler_output
  llama       LlamaForCausalLM: untied head, llama3 RoPE scaling, GQA
  qwen3       Qwen3ForCausalLM: tied head, q_norm/k_norm, head_dim 16 != hidden/heads
  llama_lora  a PEFT LoRA adapter (random non-zero A and B) on the llama model, saved as PEFT saves it
              (adapter_config.json + adapter_model.safetensors); its outputs are the adapted model's
  causal LMs: inputs input_ids, attention_mask (2,7), row 1 left-padded by 2;
              outputs last_hidden_state (2,7,32) (after the final norm), logits (2,7,100),
              greedy_tokens (2,N) int64, N <= 8: greedy continuation, eos 2, pad 0 after a row's EOS,
              stopping early once every row has emitted EOS (as generate and vlm's generate do).
Positions are cumsum(mask) - 1 (padding at 1), as transformers' generate computes them and as vlm's
decoder derives them from the mask. The greedy tokens come from a plain loop of full forwards with
those positions and are checked against model.generate; a disagreement is reported, not hidden.
"""
import argparse
import json
import os
import sys

SEED = 1234
VOCAB = 100
MAX_NEW_TOKENS = 8
EOS, PAD, BOS = 2, 0, 1
FAMILIES = ("vit", "distilbert", "bert", "llama", "qwen3", "llama_lora")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=None, help="output folder (default: tests/fixtures/parity)")
    parser.add_argument("--out", dest="out_flag", default=None, help="same as the positional OUT_DIR")
    parser.add_argument("--only", default=",".join(FAMILIES),
                        help="comma-separated families to write (llama_lora needs llama); default: all")
    args = parser.parse_args(argv)
    args.out = args.out or args.out_flag or os.path.join("tests", "fixtures", "parity")
    args.only = [f for f in args.only.split(",") if f]
    unknown = [f for f in args.only if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if "llama_lora" in args.only and "llama" not in args.only:
        args.only.insert(args.only.index("llama_lora"), "llama")
    return args


# Everything below needs torch; imported lazily so the argument parsing can be checked without it.
torch = None


def seed(offset):
    torch.manual_seed(SEED + offset)


def randomize(model, scale=0.05):
    """Moves every parameter off its init (norm weights 1, biases 0) so loading mistakes show."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * scale)


def save_tensors(folder, name, tensors):
    from safetensors.torch import save_file
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, os.path.join(folder, name),
              metadata={"format": "pt"})


def text_inputs(right_padded):
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(3, VOCAB, (2, 7), generator=g, dtype=torch.int64)  # no bos/eos/pad among the ids
    mask = torch.ones(2, 7, dtype=torch.int64)
    if right_padded:
        mask[1, 5:] = 0
        ids[1, 5:] = PAD
    else:  # left padding, as batched generation uses
        mask[1, :2] = 0
        ids[1, :2] = PAD
    return ids, mask


def mask_positions(mask):
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)


def max_abs(a, b):
    return float((a.float() - b.float()).abs().max())


def reload_check(cls, folder, model, inputs, outputs_of, report, name):
    """Loads the saved folder back with transformers and checks it reproduces the outputs: catches
    weights that save_pretrained renames, drops or ties differently from the model that made them."""
    try:
        again = cls.from_pretrained(folder, attn_implementation="eager").eval()
        with torch.no_grad():
            d = max(max_abs(a, b) for a, b in zip(outputs_of(model, inputs), outputs_of(again, inputs)))
        report[name]["reload_max_abs_diff"] = d
        if d > 1e-6:
            report["problems"].append(f"{name}: reloading the saved folder changes outputs by {d:.3g}")
    except Exception as e:  # noqa: BLE001 - reported, the fixture itself is still written
        report["problems"].append(f"{name}: reload check failed: {type(e).__name__}: {e}")


def make_vit(root, report):
    from transformers import ViTConfig, ViTModel
    seed(10)
    cfg = ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    image_size=32, patch_size=8, num_channels=3, hidden_dropout_prob=0.0,
                    attention_probs_dropout_prob=0.0, attn_implementation="eager")
    model = ViTModel(cfg, add_pooling_layer=True).eval()
    randomize(model)
    folder = os.path.join(root, "vit")
    model.save_pretrained(folder)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(SEED + 2))
    with torch.no_grad():
        out = model(pixel_values=pixels)
    save_tensors(folder, "inputs.safetensors", {"pixel_values": pixels})
    save_tensors(folder, "outputs.safetensors",
                 {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output})
    report["vit"] = {"attn_implementation": model.config._attn_implementation}
    reload_check(ViTModel, folder, model, pixels,
                 lambda m, x: (m(pixel_values=x).last_hidden_state, m(pixel_values=x).pooler_output), report, "vit")


def make_text_encoder(root, family, report):
    if family == "distilbert":
        from transformers import DistilBertConfig as Config, DistilBertModel as Model
        seed(20)
        cfg = Config(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
                     dropout=0.0, attention_dropout=0.0, attn_implementation="eager")
    else:
        from transformers import BertConfig as Config, BertModel as Model
        seed(30)
        cfg = Config(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                     attention_probs_dropout_prob=0.0, attn_implementation="eager")
    model = Model(cfg).eval()  # BertModel adds its pooler by default; DistilBertModel has none
    randomize(model)
    folder = os.path.join(root, family)
    model.save_pretrained(folder)
    ids, mask = text_inputs(right_padded=True)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    outputs = {"last_hidden_state": out.last_hidden_state}
    if getattr(out, "pooler_output", None) is not None:
        outputs["pooler_output"] = out.pooler_output
    save_tensors(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save_tensors(folder, "outputs.safetensors", outputs)
    report[family] = {"attn_implementation": model.config._attn_implementation}
    reload_check(Model, folder, model, (ids, mask),
                 lambda m, x: (m(input_ids=x[0], attention_mask=x[1]).last_hidden_state,), report, family)


def rope_kwargs(config_cls, theta, scaling=None):
    """transformers 5 keeps RoPE settings in rope_parameters (theta included); 4.x in rope_theta and
    rope_scaling. Saved config.json then holds rope_parameters (5.x), which vlm reads too."""
    fields = getattr(config_cls, "__dataclass_fields__", {})
    init_code = getattr(config_cls.__init__, "__code__", None)
    if "rope_parameters" in fields or (init_code is not None and "rope_parameters" in init_code.co_varnames):
        params = {"rope_type": "default", "rope_theta": theta}
        params.update(scaling or {})
        return {"rope_parameters": params}
    return {"rope_theta": theta, **({"rope_scaling": dict(scaling)} if scaling else {})}


def lm_parts(model):
    """(the LlamaForCausalLM-like model, its decoder stack): also through a PeftModel wrapper."""
    base = model.get_base_model() if type(model).__module__.startswith("peft") else model
    return base, base.model


def lm_forward(model, ids, mask):
    base, decoder = lm_parts(model)
    pos = mask_positions(mask)
    with torch.no_grad():
        hidden = decoder(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).last_hidden_state
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits
        head_diff = max_abs(base.lm_head(hidden), logits)
    return hidden, logits, head_diff


def greedy_loop(model, ids, mask):
    """Greedy decoding by full forwards (no cache), positions from the mask; pad after a row's EOS;
    stops when every row has finished. Also returns the smallest top-1/top-2 logit gap seen."""
    seq, m = ids.clone(), mask.clone()
    unfinished = torch.ones(ids.shape[0], dtype=torch.bool)
    new, min_gap = [], float("inf")
    with torch.no_grad():
        for _ in range(MAX_NEW_TOKENS):
            logits = model(input_ids=seq, attention_mask=m, position_ids=mask_positions(m), use_cache=False).logits
            last = logits[:, -1, :].float()
            top2 = last.topk(2, dim=-1).values
            gaps = (top2[:, 0] - top2[:, 1])[unfinished]
            if gaps.numel():
                min_gap = min(min_gap, float(gaps.min()))
            nxt = last.argmax(-1)
            nxt = torch.where(unfinished, nxt, torch.full_like(nxt, PAD))
            new.append(nxt)
            unfinished &= nxt != EOS
            seq = torch.cat([seq, nxt[:, None]], 1)
            m = torch.cat([m, torch.ones_like(nxt[:, None])], 1)
            if not bool(unfinished.any()):
                break
    return torch.stack(new, 1).to(torch.int64), min_gap


def greedy_generate(model, ids, mask):
    from transformers import GenerationConfig
    gen_cfg = GenerationConfig(max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1, use_cache=True,
                               eos_token_id=EOS, pad_token_id=PAD, bos_token_id=BOS)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=gen_cfg)
    seqs = out.sequences if hasattr(out, "sequences") else out
    return seqs[:, ids.shape[1]:].to(torch.int64)


def lm_outputs(model, ids, mask, report, name):
    hidden, logits, head_diff = lm_forward(model, ids, mask)
    greedy, min_gap = greedy_loop(model, ids, mask)
    r = report[name]
    r["lm_head_of_last_hidden_state_max_abs_diff"] = head_diff
    r["greedy_tokens"] = greedy.tolist()
    r["greedy_min_top2_gap"] = min_gap
    if head_diff > 1e-5:
        report["problems"].append(f"{name}: lm_head(last_hidden_state) differs from logits by {head_diff:.3g}")
    if min_gap < 1e-3:
        report["problems"].append(f"{name}: a greedy step has a top-2 logit gap of {min_gap:.3g} (fragile)")
    try:
        by_generate = greedy_generate(model, ids, mask)
        r["generate_agrees"] = bool(by_generate.shape == greedy.shape and torch.equal(by_generate, greedy))
        if not r["generate_agrees"]:
            r["greedy_tokens_generate"] = by_generate.tolist()
            report["problems"].append(f"{name}: model.generate gives {by_generate.tolist()}, the positions-from-mask "
                                      f"loop {greedy.tolist()} (the loop's tokens are stored)")
    except Exception as e:  # noqa: BLE001
        report["problems"].append(f"{name}: generate failed: {type(e).__name__}: {e}")
    return {"last_hidden_state": hidden, "logits": logits, "greedy_tokens": greedy}


def make_causal_lm(root, family, report):
    common = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, bos_token_id=BOS, eos_token_id=EOS,
                  pad_token_id=PAD, attention_dropout=0.0, attention_bias=False, hidden_act="silu",
                  initializer_range=0.02, use_cache=True, attn_implementation="eager")
    if family == "llama":
        from transformers import LlamaConfig as Config, LlamaForCausalLM as Model
        seed(40)
        cfg = Config(**common, rms_norm_eps=1e-5, tie_word_embeddings=False, mlp_bias=False,
                     **rope_kwargs(Config, 10000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                     "high_freq_factor": 4.0,
                                                     "original_max_position_embeddings": 32}))
    else:
        from transformers import Qwen3Config as Config, Qwen3ForCausalLM as Model
        seed(50)
        cfg = Config(**common, head_dim=16, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                     **rope_kwargs(Config, 1000000.0))
    model = Model(cfg).eval()
    randomize(model)
    if cfg.tie_word_embeddings:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "head not tied"
    folder = os.path.join(root, family)
    model.save_pretrained(folder)
    ids, mask = text_inputs(right_padded=False)
    report[family] = {"attn_implementation": model.config._attn_implementation,
                      "rope": getattr(model.config, "rope_parameters", None) or getattr(model.config, "rope_scaling", None)}
    save_tensors(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save_tensors(folder, "outputs.safetensors", lm_outputs(model, ids, mask, report, family))
    reload_check(Model, folder, model, (ids, mask), lambda m, x: lm_forward(m, *x)[:2], report, family)
    return model, ids, mask


def make_lora(root, base, ids, mask, report):
    from peft import LoraConfig, get_peft_model
    seed(60)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear", bias="none",
                     task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg).eval()  # wraps base in place: the llama fixture is already written
    with torch.no_grad():  # random A and B (B is zero at init), so the adapter changes every output
        for name, p in model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                p.copy_(torch.randn_like(p) * 0.1)
    folder = os.path.join(root, "llama_lora")
    model.save_pretrained(folder, save_embedding_layers=False)
    report["llama_lora"] = {"target_modules": sorted(model.peft_config["default"].target_modules)}
    save_tensors(folder, "inputs.safetensors", {"input_ids": ids, "attention_mask": mask})
    save_tensors(folder, "outputs.safetensors", lm_outputs(model, ids, mask, report, "llama_lora"))
    with open(os.path.join(folder, "base_model.txt"), "w") as f:
        f.write("../llama\n")


def main(argv=None):
    global torch
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch as _torch
    torch = _torch
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    import peft
    import transformers

    os.makedirs(args.out, exist_ok=True)
    report = {"problems": []}
    with torch.device("cpu"):
        if "vit" in args.only:
            make_vit(args.out, report)
        for family in ("distilbert", "bert"):
            if family in args.only:
                make_text_encoder(args.out, family, report)
        llama = ids = mask = None
        if "llama" in args.only:
            llama, ids, mask = make_causal_lm(args.out, "llama", report)
        if "qwen3" in args.only:
            make_causal_lm(args.out, "qwen3", report)
        if "llama_lora" in args.only:
            make_lora(args.out, llama, ids, mask, report)

    sizes = {}
    for dirpath, _, files in os.walk(args.out):
        for name in files:
            path = os.path.join(dirpath, name)
            sizes[os.path.relpath(path, args.out)] = os.path.getsize(path)
    manifest = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                "seed": SEED, "dtype": "float32", "device": "cpu", "families": report,
                "problems": report.pop("problems"), "files": sizes, "total_bytes": sum(sizes.values())}
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, default=str)
    print(json.dumps({k: manifest[k] for k in ("torch", "transformers", "peft", "total_bytes", "problems")}),
          flush=True)
    for p in manifest["problems"]:
        print("PROBLEM:", p, flush=True)
    print("wrote", args.out, flush=True)
    return 1 if manifest["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
