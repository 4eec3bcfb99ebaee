#!/usr/bin/env python3
"""bench_stage_step's workloads written in plain PyTorch, for a CPU side-by-side (not part of the product).

The same modules, shapes and trainable parameters as bench/stage_step.cpp (stage_workloads.h), written
the way a PyTorch user would without vlm's savings: ViT-B/16 (frozen, no-grad, eval), the Q-Former
over DistilBERT (32 queries, cross-attention and a query FFN in every layer, dropout 0.1), the 2-layer
MLP adapter, SmolLM-135M or Qwen3-0.6B with LoRA r=64 alpha=128 dropout 0.1 on every linear layer; the
LM head over every position and F.cross_entropy (transformers' way); Adam (stage 1) / AdamW with
clipping at 1.0 (stage 2) over the same parameter groups. Random weights, fixed synthetic batches.
Runs on Debian's python3-torch (1.13, CPU): no transformers, no peft. Prints one JSON line like
bench_stage_step's (impl "pytorch"), with the trainable parameter count and CPU seconds per step.

    /usr/bin/python3 bench/python/plain_stage_step.py --stage 1|2 [--lm smollm|qwen3] [--batch 8]
        [--steps 5] [--warmup 2] [--precision fp32|bf16] [--threads 2]
"""
import argparse
import json
import math
import os
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def attention(q, k, v, heads, mask=None, dropout=0.0, training=False):
    """(B, T, D) queries over (B, S, D) keys/values, heads split from D; mask additive (B, 1, T|1, S)."""
    B, T, D = q.shape
    S = k.shape[1]
    dh = D // heads
    q = q.view(B, T, heads, dh).transpose(1, 2)
    k = k.view(B, S, heads, dh).transpose(1, 2)
    v = v.view(B, S, heads, dh).transpose(1, 2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(dh)
    if mask is not None:
        scores = scores + mask
    probs = F.dropout(scores.softmax(-1), dropout, training)
    return (probs @ v).transpose(1, 2).reshape(B, T, D)


# ---- ViT-B/16 (transformers' ViTModel, pre-norm) -------------------------------------------------
class ViTLayer(nn.Module):
    def __init__(self, d=768, heads=12, inner=3072):
        super().__init__()
        self.heads = heads
        self.layernorm_before = nn.LayerNorm(d, eps=1e-12)
        self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))
        self.layernorm_after = nn.LayerNorm(d, eps=1e-12)
        self.intermediate = nn.Linear(d, inner)
        self.output = nn.Linear(inner, d)

    def forward(self, x):
        h = self.layernorm_before(x)
        x = x + self.out(attention(self.query(h), self.key(h), self.value(h), self.heads))
        return x + self.output(F.gelu(self.intermediate(self.layernorm_after(x))))


class ViT(nn.Module):
    def __init__(self, d=768, layers=12, patch=16, image=224):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, d) * 0.02)
        self.layers = nn.ModuleList(ViTLayer(d) for _ in range(layers))
        self.layernorm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.layernorm(x)


# ---- Q-Former over DistilBERT (post-norm blocks) ---------------------------------------------------
class AttentionBlock(nn.Module):
    def __init__(self, d, kv_width, heads=12, p=0.1):
        super().__init__()
        self.heads, self.p = heads, p
        self.q, self.k, self.v, self.o = nn.Linear(d, d), nn.Linear(kv_width, d), nn.Linear(kv_width, d), nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=1e-12)

    def forward(self, x, kv, mask=None):
        a = attention(self.q(x), self.k(kv), self.v(kv), self.heads, mask, self.p, self.training)
        return self.norm(x + F.dropout(self.o(a), self.p, self.training))


class FeedForward(nn.Module):
    def __init__(self, d, inner=3072, p=0.1):
        super().__init__()
        self.p = p
        self.up, self.down, self.norm = nn.Linear(d, inner), nn.Linear(inner, d), nn.LayerNorm(d, eps=1e-12)

    def forward(self, x):
        return self.norm(x + F.dropout(self.down(F.gelu(self.up(x))), self.p, self.training))


class QFormerLayer(nn.Module):
    def __init__(self, d, vision_width):
        super().__init__()
        self.attention = AttentionBlock(d, d)
        self.crossattention = AttentionBlock(d, vision_width)
        self.ffn = FeedForward(d)
        self.ffn_query = FeedForward(d)


class QFormer(nn.Module):
    def __init__(self, d=768, layers=6, queries=32, vision_width=768, embed=256, vocab=30522, max_pos=512):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.position = nn.Embedding(max_pos, d)
        self.embed_norm = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList(QFormerLayer(d, vision_width) for _ in range(layers))
        self.query_tokens = nn.Parameter(torch.randn(1, queries, d) * 0.02)
        self.vision_proj, self.text_proj, self.itm_head = nn.Linear(d, embed), nn.Linear(d, embed), nn.Linear(d, 2)

    def forward_image(self, feats):  # queries only, cross-attending to the image
        x = F.dropout(self.embed_norm(self.query_tokens.expand(feats.shape[0], -1, -1)), 0.1, self.training)
        for layer in self.layers:
            x = layer.ffn_query(layer.crossattention(layer.attention(x, x), feats))
        return x

    def forward_text(self, ids, mask):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = F.dropout(self.embed_norm(self.word(ids) + self.position(pos)), 0.1, self.training)
        additive = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer.ffn(layer.attention(x, x, additive))
        return x

    def image_embeds(self, feats):
        return F.normalize(self.vision_proj(self.forward_image(feats)), dim=-1)

    def text_embed(self, ids, mask):
        return F.normalize(self.text_proj(self.forward_text(ids, mask)[:, 0]), dim=-1)


# ---- Llama / Qwen3 decoder with LoRA -------------------------------------------------------------
class LoraLinear(nn.Module):
    def __init__(self, i, o, std, r=64, alpha=128.0, p=0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i) * std, requires_grad=False)
        self.lora_A = nn.Linear(i, r, bias=False)
        self.lora_B = nn.Linear(r, o, bias=False)
        nn.init.zeros_(self.lora_B.weight)
        self.scaling, self.p = alpha / r, p

    def forward(self, x):
        return F.linear(x, self.weight) + self.lora_B(self.lora_A(F.dropout(x, self.p, self.training))) * self.scaling


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        h = x.float()
        return self.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, h, hkv, dh, inner, std = c["hidden"], c["heads"], c["kv_heads"], c["head_dim"], c["inner"], c["init"]
        self.h, self.hkv, self.dh, self.qwen3 = h, hkv, dh, c["qwen3"]
        self.q_proj, self.k_proj = LoraLinear(d, h * dh, std), LoraLinear(d, hkv * dh, std)
        self.v_proj, self.o_proj = LoraLinear(d, hkv * dh, std), LoraLinear(h * dh, d, std)
        self.gate_proj, self.up_proj = LoraLinear(d, inner, std), LoraLinear(d, inner, std)
        self.down_proj = LoraLinear(inner, d, std)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(d, c["eps"]), RMSNorm(d, c["eps"])
        if self.qwen3:
            self.q_norm, self.k_norm = RMSNorm(dh, c["eps"]), RMSNorm(dh, c["eps"])

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.h, self.dh)
        k = self.k_proj(h).view(B, T, self.hkv, self.dh)
        v = self.v_proj(h).view(B, T, self.hkv, self.dh).transpose(1, 2)
        if self.qwen3:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos.to(q.dtype) + rotate_half(q) * sin.to(q.dtype)
        k = k * cos.to(k.dtype) + rotate_half(k) * sin.to(k.dtype)
        rep = self.h // self.hkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.dh) + mask.to(q.dtype)
        a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(B, T, self.h * self.dh)
        x = x + self.o_proj(a)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


LMS = {
    "smollm": dict(vocab=49152, hidden=576, inner=1536, layers=30, heads=9, kv_heads=3, head_dim=64, eps=1e-5,
                   theta=10000.0, qwen3=False, init=0.041666666666666664),
    "qwen3": dict(vocab=151936, hidden=1024, inner=3072, layers=28, heads=16, kv_heads=8, head_dim=128, eps=1e-6,
                  theta=1000000.0, qwen3=True, init=0.02),
}


class DecoderLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab"], c["hidden"])
        nn.init.normal_(self.embed_tokens.weight, std=c["init"])  # transformers' _init_weights, as vlm's
        self.embed_tokens.weight.requires_grad_(False)
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"], c["eps"])
        self.register_buffer("inv_freq", 1.0 / c["theta"] ** (torch.arange(0, c["head_dim"], 2).float() / c["head_dim"]))

    def forward(self, embeds):  # causal, no padding; tied head over every position
        T = embeds.shape[1]
        freqs = torch.arange(T, dtype=torch.float32)[:, None] * self.inv_freq[None]
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
        x = embeds
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return F.linear(self.norm(x), self.embed_tokens.weight)


# ---- the two workloads -----------------------------------------------------------------------------
def stage1(a):
    vit, qformer = ViT().eval().requires_grad_(False), QFormer().train()
    pixels = torch.randn(a.batch, 3, 224, 224)
    ids = torch.randint(1000, 30000, (a.batch, a.text_len))
    mask = torch.ones_like(ids)

    def loss():
        with torch.no_grad():
            feats = vit(pixels)
        image = F.normalize(qformer.image_embeds(feats).mean(1), dim=-1)
        text = qformer.text_embed(ids, mask)
        logits = (image.float() @ text.float().t()) / 0.07
        labels = torch.arange(a.batch)
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2

    cross = [p for n, p in qformer.named_parameters() if n == "query_tokens" or ".crossattention." in n]
    ids_cross = {id(p) for p in cross}
    other = [p for p in qformer.parameters() if id(p) not in ids_cross]
    opt = torch.optim.Adam([{"params": cross, "lr": 1e-4}, {"params": other, "lr": 1e-5}])
    return loss, opt, cross + other, 0.0


def stage2(a):
    vit, qformer = ViT().eval().requires_grad_(False), QFormer().train()
    lm = DecoderLM(LMS[a.lm]).train()
    d = LMS[a.lm]["hidden"]
    adapter = nn.Sequential(nn.Linear(768, d), nn.GELU(), nn.Linear(d, d))
    pixels = torch.randn(a.batch, 3, 224, 224)
    prompt = torch.randint(100, 20000, (a.batch, a.prompt_len))
    target = torch.randint(100, 20000, (a.batch, a.target_len))

    def loss():
        with torch.no_grad():
            feats = vit(pixels)
        image = adapter(qformer.forward_image(feats))
        embeds = torch.cat([image, lm.embed_tokens(prompt).to(image.dtype), lm.embed_tokens(target).to(image.dtype)], 1)
        logits = lm(embeds)
        labels = torch.cat([torch.full((a.batch, image.shape[1] + a.prompt_len), -100), target], 1)
        return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                               ignore_index=-100)

    lora = [p for n, p in lm.named_parameters() if "lora_" in n]
    opt = torch.optim.AdamW([{"params": list(qformer.parameters()), "lr": 1e-4},
                             {"params": list(adapter.parameters()), "lr": 5e-4},
                             {"params": lora, "lr": 5e-4}], weight_decay=0.01)
    return loss, opt, list(qformer.parameters()) + list(adapter.parameters()) + lora, 1.0


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", type=int, choices=(1, 2), default=2)
    p.add_argument("--lm", choices=sorted(LMS), default="smollm")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--text-len", type=int, default=32)
    p.add_argument("--prompt-len", type=int, default=32)
    p.add_argument("--target-len", type=int, default=24)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    loss_fn, opt, params, clip = stage1(a) if a.stage == 1 else stage2(a)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = loss_fn()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip > 0 else float("inf"))
        if torch.isfinite(loss) and torch.isfinite(norm):
            opt.step()
        return loss.item()

    first_loss = step()
    for _ in range(a.warmup - 1):
        step()
    ms, cpu0, t0 = [], cpu_seconds(), time.perf_counter()
    for _ in range(a.steps):
        s = time.perf_counter()
        step()
        ms.append(1000 * (time.perf_counter() - s))
    cpu = cpu_seconds() - cpu0
    wall = time.perf_counter() - t0
    print(json.dumps({
        "impl": "pytorch", "what": f"stage{a.stage}", "lm": a.lm if a.stage == 2 else "", "batch": a.batch,
        "device": "cpu", "precision": a.precision, "threads": torch.get_num_threads(),
        "step_ms": statistics.median(ms), "mean_step_ms": 1000 * wall / a.steps,
        "cpu_s_per_step": cpu / a.steps, "samples_per_cpu_s": a.batch * a.steps / max(cpu, 1e-9),
        "trainable_params": sum(p.numel() for p in params), "first_loss": first_loss,
        "load_1m": os.getloadavg()[0],
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "torch": torch.__version__, "text_len": a.text_len, "prompt_len": a.prompt_len, "target_len": a.target_len}))


if __name__ == "__main__":
    main()
