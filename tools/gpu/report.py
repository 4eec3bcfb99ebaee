#!/usr/bin/env python3
"""Joins bench_stage_step / bench_generate JSON lines (ours) and bench/python/baseline.py's JSON
list (transformers + peft) into one Markdown table, with the model FLOP utilisation of both
computed by one formula (matmul FLOPs only; see flops_per_sample).
    tools/gpu/report.py OURS.jsonl PYTHON.json [--peak-tflops 989]
"""
import argparse
import json
import os

VIT = dict(layers=12, d=768, f=3072, tokens=197, patches=196, patch_in=3 * 16 * 16)
QF = dict(layers=6, d=768, f=3072, queries=32, vision_tokens=197, vision_d=768, text_tokens=32, embed=256)
LMS = {
    "smollm": dict(layers=30, d=576, f=1536, heads=9, kv=3, hd=64, vocab=49152),
    "qwen3": dict(layers=28, d=1024, f=3072, heads=16, kv=8, hd=128, vocab=151936),
}
LORA_R = 64


def vit_forward():
    v = VIT
    per_layer = 2 * v["tokens"] * (4 * v["d"] ** 2 + 2 * v["d"] * v["f"]) + 4 * v["tokens"] ** 2 * v["d"]
    return v["layers"] * per_layer + 2 * v["patches"] * v["patch_in"] * v["d"]


def qformer_query_path():
    """(forward, backward) of the 32 queries through 6 layers with cross-attention in each."""
    q, d, f, tv, dv = QF["queries"], QF["d"], QF["f"], QF["vision_tokens"], QF["vision_d"]
    own = 2 * q * 4 * d * d + 4 * q * q * d          # self-attention projections and products
    own += 2 * q * 2 * d * d + 4 * q * tv * d         # cross-attention q/o projections and products
    own += 2 * q * 2 * d * f                           # the query FFN
    kv_vision = 2 * tv * 2 * dv * d                    # cross-attention k/v over the frozen ViT features
    fwd = QF["layers"] * (own + kv_vision)
    bwd = QF["layers"] * (2 * own + kv_vision)         # k/v: weight gradients only (the ViT is frozen)
    return fwd, bwd


def qformer_text_path(tokens):
    d, f = QF["d"], QF["f"]
    fwd = QF["layers"] * (2 * tokens * (4 * d * d + 2 * d * f) + 4 * tokens * tokens * d)
    return fwd, 2 * fwd


def lm_step(lm, tokens):
    """(forward, backward) of the LM with LoRA on its 7 linear layers: base weights frozen (their
    backward is the input gradient only), LoRA trained, the tied LM head frozen."""
    c = LMS[lm]
    d, f, h, kv, hd = c["d"], c["f"], c["heads"], c["kv"], c["hd"]
    shapes = [(d, h * hd), (d, kv * hd), (d, kv * hd), (h * hd, d), (d, f), (d, f), (f, d)]
    base = sum(i * o for i, o in shapes)
    lora = sum(LORA_R * (i + o) for i, o in shapes)
    attn = 4 * tokens * tokens * h * hd
    head = 2 * tokens * d * c["vocab"]
    fwd = c["layers"] * (2 * tokens * base + 2 * tokens * lora + attn) + head
    bwd = c["layers"] * (2 * tokens * base + 4 * tokens * lora + 2 * attn) + head
    return fwd, bwd


def flops_per_sample(row):
    """Matmul FLOPs of one training sample (forward + backward), or of nothing for generation."""
    if row["what"] == "stage1":
        qf, qb = qformer_query_path()
        tf, tb = qformer_text_path(row.get("text_len", 32))
        return vit_forward() + qf + qb + tf + tb
    if row["what"] == "stage2":
        tokens = QF["queries"] + row.get("prompt_len", 32) + row.get("target_len", 24)
        qf, qb = qformer_query_path()
        d = LMS[row["lm"]]["d"]
        adapter = 2 * QF["queries"] * (QF["d"] * d + d * d)
        lf, lb = lm_step(row["lm"], tokens)
        return vit_forward() + qf + qb + 3 * adapter + lf + lb
    return 0


def load(ours_path, python_path):
    rows = []
    if os.path.exists(ours_path):
        with open(ours_path) as f:
            rows += [json.loads(line) for line in f if line.strip().startswith("{")]
    if os.path.exists(python_path):
        with open(python_path) as f:
            data = json.load(f)
        rows += [dict(r, impl="python") for r in (data if isinstance(data, list) else data.get("results", []))]
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("python")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM)")
    args = ap.parse_args()
    rows = [r for r in load(args.ours, args.python) if not r.get("error")]
    key = lambda r: (r["what"], r.get("lm") or "", int(r["batch"]))
    table = {}
    for r in rows:
        table.setdefault(key(r), {})[r["impl"]] = r
    print("| workload | batch | vlm | Python (transformers + peft) | speedup | peak GiB vlm / Python | MFU vlm / Python | vlm, CUDA graph |")
    print("|---|---|---|---|---|---|---|---|")
    for k in sorted(table, key=lambda k: (k[0] == "generate", k)):
        what, lm, batch = k
        ours, py, graph = table[k].get("cpp"), table[k].get("python"), table[k].get("cpp-graph")
        name = what if not lm else f"{what} {lm}"
        if what == "generate":
            a, b = (ours or {}).get("tokens_per_s"), (py or {}).get("tokens_per_s")
            unit = "tokens/s"
            mem = mfu = ""
        else:
            a, b = (ours or {}).get("samples_per_s"), (py or {}).get("samples_per_s")
            unit = "samples/s"
            f = flops_per_sample(ours or py)
            m = lambda r: f"{100 * f * r['samples_per_s'] / (args.peak_tflops * 1e12):.1f}%" if r else "-"
            mem = f"{(ours or {}).get('peak_gib', 0):.2f} / {(py or {}).get('peak_gib', 0):.2f}"
            mfu = f"{m(ours)} / {m(py)}" if what == "stage2" else ""
        fmt = lambda v: f"{v:.1f} {unit}" if v else "-"
        speed = f"{a / b:.2f}x" if a and b else "-"
        g = ""
        if graph:
            g = f"{graph['samples_per_s']:.1f} samples/s" + (f" ({graph['samples_per_s'] / b:.2f}x)" if b else "")
        print(f"| {name} | {batch} | {fmt(a)} | {fmt(b)} | {speed} | {mem} | {mfu} | {g} |")
    errors = [r for r in load(args.ours, args.python) if r.get("error")]
    for r in errors:
        print(f"error: {r['impl']} {r['what']} {r.get('lm', '')} batch {r.get('batch')}: {r['error'][:200]}")


if __name__ == "__main__":
    main()
