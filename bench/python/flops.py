"""Analytic matmul FLOPs of one stage-1 / stage-2 training step (pure Python, no torch), the count
bench/python/baseline.py reports as TFLOP/s and MFU; bench/stage_step.cpp can mirror it line by line.

Rules: a matmul (M x K) @ (K x N) costs 2*M*K*N. Forward = 2 * (weights in matmuls) * tokens, plus the
attention products QK^T and AV (2*Tq*Tk*Dh each per head; counted in full, no causal halving).
Backward = 2x forward for trainable parts (input and weight gradients), 1x forward for the frozen LM
base weights (input gradient only: the LM's first layer needs it, its weights get none), 2x for the
LM's attention products (both operands are activations), 0 for the frozen ViT (forward under no_grad).
Embedding lookups, norms, activations, softmax, the loss and the optimizer are not counted.
"""

H200_BF16_DENSE_TFLOPS = 989.0

# The real models' shapes (the same numbers as baseline.py's configs).
VIT_B16 = dict(hidden=768, layers=12, intermediate=3072, image=224, patch=16, channels=3)
DISTILBERT = dict(hidden=768, layers=6, intermediate=3072)
LMS = {
    "smollm": dict(hidden=576, layers=30, heads=9, kv_heads=3, head_dim=64, intermediate=1536, vocab=49152),
    "qwen3": dict(hidden=1024, layers=28, heads=16, kv_heads=8, head_dim=128, intermediate=3072, vocab=151936),
}

FORMULA = """per sample (T_vit = (224/16)^2 + 1 = 197, Q = 32 queries, S = Q + Tp + Tt LM tokens):
  vit_fwd     = 2*196*(3*16*16)*D + L_vit * [2*T_vit*(4*D^2 + 2*D*I) + 4*T_vit^2*D]
  qformer_fwd = L_q * [2*Q*(4*D^2 + 2*D*I) + 4*Q^2*D                    (self-attention + query FFN)
                       + 2*(2*Q*D^2 + 2*T_vit*D_vit*D) + 4*Q*T_vit*D]   (cross-attention over ViT features)
  text_fwd    = L_q * [2*T*(4*D^2 + 2*D*I) + 4*T^2*D] + 2*2*D*256       (stage 1: text encoder + projections)
  adapter_fwd = 2*Q*(D*D_lm + D_lm^2)
  lm_base_fwd = 2*S*[L*(D*H*Dh + 2*D*Hkv*Dh + H*Dh*D + 3*D*I) + D*V]    (incl. lm_head)
  lm_attn_fwd = L * 4*S^2*H*Dh
  lora_fwd    = 2*S*r*L*[(D + H*Dh) + 2*(D + Hkv*Dh) + (H*Dh + D) + 3*(D + I)]
  stage1 = vit_fwd + 3*(qformer_fwd + text_fwd)
  stage2 = vit_fwd + 3*(qformer_fwd + adapter_fwd + lora_fwd + lm_attn_fwd) + 2*lm_base_fwd
  step FLOPs = batch * per-sample; TFLOP/s = step FLOPs / step time; MFU = TFLOP/s / 989 (H200 dense bf16)"""


def encoder_layer_fwd(tokens, d, inter):
    """One BERT-style layer on `tokens` tokens: Q,K,V,O projections, FFN, attention products."""
    return 2 * tokens * (4 * d * d + 2 * d * inter) + 4 * tokens * tokens * d


def vit_fwd(vit=VIT_B16):
    patches = (vit["image"] // vit["patch"]) ** 2
    tokens = patches + 1
    patch_embed = 2 * patches * vit["channels"] * vit["patch"] ** 2 * vit["hidden"]
    return patch_embed + vit["layers"] * encoder_layer_fwd(tokens, vit["hidden"], vit["intermediate"])


def qformer_image_fwd(queries=32, vit=VIT_B16, q=DISTILBERT):
    """The query path: self-attention + query FFN per layer, and a cross-attention over the ViT tokens."""
    tokens = (vit["image"] // vit["patch"]) ** 2 + 1
    d, dv = q["hidden"], vit["hidden"]
    cross = 2 * (2 * queries * d * d + 2 * tokens * dv * d) + 4 * queries * tokens * d
    return q["layers"] * (encoder_layer_fwd(queries, d, q["intermediate"]) + cross)


def qformer_text_fwd(text_len=32, q=DISTILBERT, embed_dim=256):
    """The text path (uni-modal DistilBERT) plus both Linear(D -> 256) projections of one vector each."""
    return q["layers"] * encoder_layer_fwd(text_len, q["hidden"], q["intermediate"]) + 2 * 2 * q["hidden"] * embed_dim


def lm_fwd_parts(lm, tokens, lora_r):
    """(base weights incl. lm_head, attention products, LoRA) forward FLOPs of one sequence."""
    d, h, hkv, dh, i, v, n = (lm["hidden"], lm["heads"], lm["kv_heads"], lm["head_dim"], lm["intermediate"], lm["vocab"],
                              lm["layers"])
    per_layer_weights = d * h * dh + 2 * d * hkv * dh + h * dh * d + 3 * d * i
    base = 2 * tokens * (n * per_layer_weights + d * v)
    attn = n * 4 * tokens * tokens * h * dh
    lora_dims = (d + h * dh) + 2 * (d + hkv * dh) + (h * dh + d) + 3 * (d + i)  # (in + out) per adapted linear
    lora = 2 * tokens * lora_r * n * lora_dims
    return base, attn, lora


def stage1_step_flops(batch, text_len=32, queries=32, vit=VIT_B16, q=DISTILBERT):
    fwd_frozen = vit_fwd(vit)
    fwd_train = qformer_image_fwd(queries, vit, q) + qformer_text_fwd(text_len, q)
    per_sample = {"forward": fwd_frozen + fwd_train, "backward": 2 * fwd_train}
    return {k: batch * x for k, x in per_sample.items()} | {"total": batch * sum(per_sample.values())}


def stage2_step_flops(batch, lm, queries=32, prompt_len=32, target_len=24, lora_r=64, vit=VIT_B16, q=DISTILBERT):
    lm = LMS[lm] if isinstance(lm, str) else lm
    tokens = queries + prompt_len + target_len
    base, attn, lora = lm_fwd_parts(lm, tokens, lora_r)
    adapter = 2 * queries * (q["hidden"] * lm["hidden"] + lm["hidden"] ** 2)
    qformer = qformer_image_fwd(queries, vit, q)
    fwd = vit_fwd(vit) + qformer + adapter + base + attn + lora
    bwd = 2 * (qformer + adapter + lora + attn) + base
    return {"forward": batch * fwd, "backward": batch * bwd, "total": batch * (fwd + bwd)}


def utilisation(step_flops, step_seconds, peak_tflops=H200_BF16_DENSE_TFLOPS):
    """(achieved TFLOP/s, fraction of peak)."""
    if not step_seconds or step_seconds <= 0:
        return None, None
    tflops = step_flops / step_seconds / 1e12
    return tflops, tflops / peak_tflops
