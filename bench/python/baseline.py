#!/usr/bin/env python3
"""The Python baseline of the GPU benchmark (not part of the product): stage 1 and stage 2 written
the usual way with transformers + peft (ViTModel, DistilBertModel, AutoModelForCausalLM, LoRA via
get_peft_model, torch.optim Adam/AdamW, bf16 autocast over fp32 master weights, SDPA attention),
random weights from the real configs, fixed synthetic batches; plus greedy generate() tokens/s.
bench/stage_step.cpp and bench/generate.cpp run the same workloads through vlm.

    python3 bench/python/baseline.py [--steps 20] [--warmup 5] [--json-out results.json]
    python3 bench/python/baseline.py --smoke          # every path, 2 timed steps, small batches

One JSON line per measurement on stdout (impl "python"), a table at the end. Needs a CUDA GPU,
torch, transformers 5.x, peft; no network (every model is built from a config object).
The stage-2 loss is the model's own (labels= to the PEFT-wrapped AutoModelForCausalLM:
transformers' ForCausalLMLoss, logits upcast to fp32, shifted CE, mean over the supervised tokens).
"""
import argparse
import gc
import json
import math
import os
import statistics
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flops import FORMULA, H200_BF16_DENSE_TFLOPS, stage1_step_flops, stage2_step_flops, utilisation  # noqa: E402

STAGES = ("stage1", "smollm", "qwen3")  # stage1, stage2 with each LM
DEFAULT_LARGE = {"stage1": 64, "smollm": 64, "qwen3": 32}
FIELDS = ("impl", "what", "lm", "batch", "step_ms", "samples_per_s", "peak_gib", "tflops", "mfu", "tokens_per_s",
          "error")


def parse_large_batch(text, base=None):
    """'stage1=64,smollm=64,qwen3=32' (any subset) -> dict over STAGES."""
    out = dict(base or DEFAULT_LARGE)
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in STAGES:
            raise argparse.ArgumentTypeError(f"--large-batch wants stage1=N,smollm=N,qwen3=N; got '{item}'")
        try:
            out[key] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--large-batch {key}: '{value}' is not an integer") from None
        if out[key] < 1:
            raise argparse.ArgumentTypeError(f"--large-batch {key} must be >= 1")
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=20, help="timed training steps (default %(default)s)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (default %(default)s)")
    p.add_argument("--batch", type=int, default=8, help="the reference tutorial's batch (default %(default)s)")
    p.add_argument("--large-batch", type=parse_large_batch, default=dict(DEFAULT_LARGE),
                   help="large batches, halved on OOM (default stage1=64,smollm=64,qwen3=32)")
    p.add_argument("--text-len", type=int, default=32, help="stage-1 caption tokens (default %(default)s)")
    p.add_argument("--queries", type=int, default=32, help="Q-Former query tokens (default %(default)s)")
    p.add_argument("--prompt-len", type=int, default=32, help="stage-2 prompt tokens (default %(default)s)")
    p.add_argument("--target-len", type=int, default=24, help="stage-2 target tokens (default %(default)s)")
    p.add_argument("--lora-r", type=int, default=64)
    p.add_argument("--lora-alpha", type=float, default=128.0)
    p.add_argument("--lora-dropout", type=float, default=0.1)
    p.add_argument("--only", default="stage1,smollm,qwen3,generate",
                   help="comma-separated subset of stage1,smollm,qwen3,generate (default: all)")
    p.add_argument("--gen-batches", default="1,32", help="generation batches (default %(default)s)")
    p.add_argument("--gen-prompt", type=int, default=32)
    p.add_argument("--gen-new", type=int, default=128, help="new tokens, forced by min_new_tokens")
    p.add_argument("--gen-runs", type=int, default=3, help="timed generate runs after one warm-up")
    p.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS,
                   help="dense bf16 peak for MFU (default: H200, %(default)s)")
    p.add_argument("--json-out", default=None, help="also write every measurement as one JSON list")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true",
                   help="validate every path quickly: 2 timed steps, 1 warm-up, large batches 16, 1 generate run")
    a = p.parse_args(argv)
    a.only = [x for x in a.only.split(",") if x]
    bad = [x for x in a.only if x not in STAGES + ("generate",)]
    if bad:
        p.error(f"--only: unknown {bad}")
    a.gen_batches = [int(x) for x in a.gen_batches.split(",") if x]
    if a.smoke:
        a.steps, a.warmup, a.gen_runs = 2, 1, 1
        a.large_batch = {k: min(v, 16) for k, v in a.large_batch.items()}
        a.gen_new = min(a.gen_new, 16)
    if a.steps < 1 or a.warmup < 0:
        p.error("--steps >= 1 and --warmup >= 0")
    return a


def emit(results, **kw):
    row = {k: kw.get(k) for k in FIELDS}
    row["impl"] = "python"
    row.update({k: v for k, v in kw.items() if k not in FIELDS})
    results.append(row)
    print(json.dumps(row), flush=True)
    return row


def log(*args):
    print("#", *args, file=sys.stderr, flush=True)


def table(results):
    cols = ("what", "lm", "batch", "step_ms", "samples_per_s", "peak_gib", "tflops", "mfu", "tokens_per_s", "error")

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1 else f"{v:.1f}"
        s = str(v)
        return s if len(s) <= 40 else s[:37] + "..."

    rows = [[cell(r.get(c)) for c in cols] for r in results]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)), flush=True)
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)), flush=True)


# ---- everything below needs torch / transformers / peft (imported in main) ----

torch = nn = F = None


def vit_config():  # google/vit-base-patch16-224
    from transformers import ViTConfig
    return ViTConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                     hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     initializer_range=0.02, layer_norm_eps=1e-12, image_size=224, patch_size=16, num_channels=3,
                     qkv_bias=True, attn_implementation="sdpa")


def distilbert_config():  # distilbert-base-uncased
    from transformers import DistilBertConfig
    return DistilBertConfig(vocab_size=30522, max_position_embeddings=512, sinusoidal_pos_embds=False, n_layers=6,
                            n_heads=12, dim=768, hidden_dim=3072, dropout=0.1, attention_dropout=0.1,
                            activation="gelu", initializer_range=0.02, pad_token_id=0, attn_implementation="sdpa")


def rope_kwargs(config_cls, theta):
    """transformers 5: rope_parameters holds rope_theta; 4.x: rope_theta."""
    fields = getattr(config_cls, "__dataclass_fields__", {})
    init_code = getattr(config_cls.__init__, "__code__", None)
    if "rope_parameters" in fields or (init_code is not None and "rope_parameters" in init_code.co_varnames):
        return {"rope_parameters": {"rope_type": "default", "rope_theta": theta}}
    return {"rope_theta": theta}


def lm_config(name):
    if name == "smollm":  # HuggingFaceTB/SmolLM-135M-Instruct
        from transformers import LlamaConfig
        return LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                           num_attention_heads=9, num_key_value_heads=3, head_dim=64, hidden_act="silu",
                           max_position_embeddings=2048, initializer_range=0.02, rms_norm_eps=1e-5,
                           tie_word_embeddings=True, attention_bias=False, mlp_bias=False, attention_dropout=0.0,
                           bos_token_id=1, eos_token_id=2, pad_token_id=2, use_cache=True,
                           attn_implementation="sdpa", **rope_kwargs(LlamaConfig, 10000.0))
    if name == "qwen3":  # Qwen/Qwen3-0.6B
        from transformers import Qwen3Config
        return Qwen3Config(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                           num_attention_heads=16, num_key_value_heads=8, head_dim=128, hidden_act="silu",
                           max_position_embeddings=40960, initializer_range=0.02, rms_norm_eps=1e-6,
                           tie_word_embeddings=True, attention_bias=False, attention_dropout=0.0,
                           use_sliding_window=False, bos_token_id=151643, eos_token_id=151645,
                           pad_token_id=151643, use_cache=True, attn_implementation="sdpa",
                           **rope_kwargs(Qwen3Config, 1000000.0))
    raise ValueError(f"unknown LM {name}")


def build_lm(name, device):
    from transformers import AutoModelForCausalLM
    cfg = lm_config(name)
    try:
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(cfg)
    except Exception as e:  # noqa: BLE001 - some versions refuse a device context: build on the CPU
        log(f"{name}: building under torch.device({device}) failed ({type(e).__name__}: {e}); CPU then .to()")
        model = AutoModelForCausalLM.from_config(cfg).to(device)
    if cfg.tie_word_embeddings and model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        log(f"warning: {name} lm_head is not tied to embed_tokens")
    log(f"{name}: {type(model).__name__}, attn={model.config._attn_implementation}, "
        f"params={sum(p.numel() for p in model.parameters()) / 1e6:.1f}M")
    return model


def build_vit(device):
    from transformers import ViTModel
    with torch.device(device):
        vit = ViTModel(vit_config(), add_pooling_layer=False)
    vit.eval().requires_grad_(False)
    return vit


QFormer = None  # the Q-Former class, defined in main() once torch is imported


def define_qformer():
    """BLIP-2's Q-Former built from DistilBERT, cross_attention_freq 1: the text path is DistilBertModel;
    the query path runs 32 learned queries through the same layers' self-attention, then per layer a
    cross-attention over the ViT features (+ residual, LayerNorm) and a query FFN copied from that
    layer's FFN (+ residual, LayerNorm)."""
    from transformers import DistilBertModel

    class _QFormer(nn.Module):
        def __init__(self, vision_width=768, num_queries=32, embed_dim=256):
            super().__init__()
            self.bert = DistilBertModel(distilbert_config())
            cfg = self.bert.config
            d, self.heads, self.attn_dropout = cfg.dim, cfg.n_heads, cfg.attention_dropout
            self.query_tokens = nn.Parameter(torch.randn(1, num_queries, d) * 0.02)
            layers = self.bert.transformer.layer
            self.crossattention = nn.ModuleList(
                nn.MultiheadAttention(d, cfg.n_heads, dropout=cfg.attention_dropout, kdim=vision_width,
                                      vdim=vision_width, batch_first=True) for _ in layers)
            self.ca_layer_norm = nn.ModuleList(nn.LayerNorm(d, eps=1e-12) for _ in layers)
            self.query_ffn = nn.ModuleList(
                nn.Sequential(nn.Linear(d, cfg.hidden_dim), nn.GELU(), nn.Linear(cfg.hidden_dim, d),
                              nn.Dropout(cfg.dropout)) for _ in layers)
            with torch.no_grad():  # a copy of each layer's FFN, as BLIP-2 initialises its query FFN
                for ffn, layer in zip(self.query_ffn, layers):
                    ffn[0].load_state_dict(layer.ffn.lin1.state_dict())
                    ffn[2].load_state_dict(layer.ffn.lin2.state_dict())
            self.query_ffn_layer_norm = nn.ModuleList(nn.LayerNorm(d, eps=1e-12) for _ in layers)
            self.vision_proj = nn.Linear(d, embed_dim)
            self.text_proj = nn.Linear(d, embed_dim)

        def _self_attention(self, attn, x):  # DistilBERT's q_lin/k_lin/v_lin/out_lin, no mask (all queries)
            b, t, d = x.shape
            split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)  # noqa: E731 (B,H,Q,Dh)
            q, k, v = split(attn.q_lin(x)), split(attn.k_lin(x)), split(attn.v_lin(x))
            o = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
            return attn.out_lin(o.transpose(1, 2).reshape(b, t, d))  # (B, Q, D)

        def image_queries(self, feats):  # feats (B, P, Dv) -> (B, Q, D)
            x = self.query_tokens.expand(feats.shape[0], -1, -1)
            for i, layer in enumerate(self.bert.transformer.layer):
                x = layer.sa_layer_norm(self._self_attention(layer.attention, x) + x)
                c = self.crossattention[i](x, feats, feats, need_weights=False)[0]
                x = self.ca_layer_norm[i](c + x)
                x = self.query_ffn_layer_norm[i](self.query_ffn[i](x) + x)
            return x

        def text_cls(self, ids, mask):  # (B, D)
            return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]

    return _QFormer


def timed_steps(step, warmup, steps, device):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(steps)]
    t0 = time.perf_counter()
    for start, end in events:
        start.record()
        step()
        end.record()
    torch.cuda.synchronize(device)
    total_s = time.perf_counter() - t0
    per_step = [s.elapsed_time(e) for s, e in events]
    return statistics.median(per_step), total_s, torch.cuda.max_memory_allocated(device) / 2**30


def stage1_step_fn(parts, batch, a, device):
    vit, qformer, opt = parts["vit"], parts["qformer"], parts["opt"]
    pixels = torch.randn(batch, 3, 224, 224, device=device)
    ids = torch.randint(1000, 30000, (batch, a.text_len), device=device)
    mask = torch.ones_like(ids)
    labels = torch.arange(batch, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            with torch.no_grad():
                feats = vit(pixel_values=pixels).last_hidden_state  # (B, 197, 768)
            img = qformer.vision_proj(qformer.image_queries(feats).mean(1))  # (B, 256)
            txt = qformer.text_proj(qformer.text_cls(ids, mask))  # (B, 256)
        img, txt = F.normalize(img.float(), dim=-1), F.normalize(txt.float(), dim=-1)
        logits = img @ txt.t() / 0.07  # (B, B) fp32
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        loss.backward()
        opt.step()
        return loss

    return step


def build_stage1(a, device):
    vit = build_vit(device)
    with torch.device(device):
        qformer = QFormer(num_queries=a.queries)
    qformer.train()
    fast, slow = [], []
    for name, p in qformer.named_parameters():
        (fast if name == "query_tokens" or name.startswith("crossattention.") or name.startswith("ca_layer_norm.")
         else slow).append(p)
    opt = torch.optim.Adam([{"params": fast, "lr": 1e-4}, {"params": slow, "lr": 1e-5}])
    log(f"stage1: {sum(p.numel() for p in fast) / 1e6:.1f}M params at 1e-4, {sum(p.numel() for p in slow) / 1e6:.1f}M "
        f"at 1e-5, Adam")
    return {"vit": vit, "qformer": qformer, "opt": opt}


def build_stage2(name, a, device):
    from peft import LoraConfig, get_peft_model
    vit = build_vit(device)
    with torch.device(device):
        qformer = QFormer(num_queries=a.queries)
    lm = build_lm(name, device)
    lm.requires_grad_(False)
    lora = LoraConfig(r=a.lora_r, lora_alpha=a.lora_alpha, lora_dropout=a.lora_dropout, bias="none",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                      task_type="CAUSAL_LM")
    lm = get_peft_model(lm, lora)
    d_lm = lm.get_base_model().config.hidden_size
    with torch.device(device):
        adapter = nn.Sequential(nn.Linear(768, d_lm), nn.GELU(), nn.Linear(d_lm, d_lm))
    for m in (qformer, adapter, lm):
        m.train()
    lora_params = [p for n, p in lm.named_parameters() if p.requires_grad]
    groups = [{"params": list(qformer.parameters()), "lr": 1e-4},
              {"params": list(adapter.parameters()) + lora_params, "lr": 5e-4}]
    opt = torch.optim.AdamW(groups, weight_decay=0.01)  # default: foreach on CUDA
    trainable = [p for g in groups for p in g["params"]]
    log(f"stage2 {name}: Q-Former {sum(p.numel() for p in qformer.parameters()) / 1e6:.1f}M, adapter "
        f"{sum(p.numel() for p in adapter.parameters()) / 1e6:.2f}M, LoRA {sum(p.numel() for p in lora_params) / 1e6:.1f}M"
        f" ({len(lora_params)} tensors), AdamW")
    return {"vit": vit, "qformer": qformer, "adapter": adapter, "lm": lm, "opt": opt, "trainable": trainable}


def stage2_step_fn(parts, batch, a, device):
    vit, qformer, adapter, lm, opt, trainable = (parts[k] for k in ("vit", "qformer", "adapter", "lm", "opt",
                                                                    "trainable"))
    embed = lm.get_base_model().get_input_embeddings()
    pixels = torch.randn(batch, 3, 224, 224, device=device)
    prompt = torch.randint(100, 20000, (batch, a.prompt_len), device=device)
    target = torch.randint(100, 20000, (batch, a.target_len), device=device)
    total = a.queries + a.prompt_len + a.target_len
    mask = torch.ones(batch, total, dtype=torch.long, device=device)
    labels = torch.cat([torch.full((batch, a.queries + a.prompt_len), -100, device=device), target], 1)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            with torch.no_grad():
                feats = vit(pixel_values=pixels).last_hidden_state  # (B, 197, 768)
            image_tokens = adapter(qformer.image_queries(feats))  # (B, Q, D_lm)
            text = embed(torch.cat([prompt, target], 1))  # (B, Tp + Tt, D_lm)
            inputs = torch.cat([image_tokens.to(text.dtype), text], 1)  # (B, Q + Tp + Tt, D_lm)
            loss = lm(inputs_embeds=inputs, attention_mask=mask, labels=labels, use_cache=False).loss
        loss.float().backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        return loss

    return step


def free_cuda():
    gc.collect()
    torch.cuda.empty_cache()


def run_training(results, what, lm_name, parts, step_fn, batch, a, device, flops_fn, tag):
    """Times batch; on OOM halves it and retries (the batch used is reported)."""
    requested = batch
    while batch >= 1:
        oom = False
        try:
            step = step_fn(parts, batch, a, device)
            loss = step()
            if not torch.isfinite(loss).item():
                log(f"{what} {lm_name} b{batch}: non-finite first loss {loss.item()}")
            med_ms, total_s, peak = timed_steps(step, a.warmup, a.steps, device)
            flops = flops_fn(batch)
            tflops, mfu = utilisation(flops["total"], med_ms / 1e3, a.peak_tflops)
            return emit(results, what=what, lm=lm_name, batch=batch, step_ms=med_ms, samples_per_s=batch / (med_ms / 1e3),
                        peak_gib=peak, tflops=tflops, mfu=mfu, total_s=total_s, steps=a.steps, warmup=a.warmup,
                        requested_batch=requested, size=tag, step_gflop=flops["total"] / 1e9,
                        loss=float(loss.float().item()))
        except torch.cuda.OutOfMemoryError:
            oom = True
            log(f"{what} {lm_name} b{batch}: out of memory, halving")
        finally:
            step = None  # noqa: F841 - drop the closure's tensors before retrying
        if oom:
            for p in parts.get("trainable", []) or []:
                p.grad = None
            parts["opt"].zero_grad(set_to_none=True)
            free_cuda()
            batch //= 2
    return emit(results, what=what, lm=lm_name, batch=0, requested_batch=requested, size=tag,
                error="out of memory even at batch 1")


def bench_generation(results, name, a, device):
    lm = build_lm(name, device).to(torch.bfloat16).eval()
    cfg = lm.config
    eos = cfg.eos_token_id if isinstance(cfg.eos_token_id, int) else cfg.eos_token_id[0]
    for batch in a.gen_batches:
        try:
            ids = torch.randint(100, 20000, (batch, a.gen_prompt), device=device)
            mask = torch.ones_like(ids)
            kw = dict(input_ids=ids, attention_mask=mask, max_new_tokens=a.gen_new, min_new_tokens=a.gen_new,
                      do_sample=False, num_beams=1, use_cache=True, pad_token_id=cfg.pad_token_id, eos_token_id=eos)
            with torch.inference_mode():
                out = lm.generate(**kw)  # warm-up
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                times = []
                for _ in range(a.gen_runs):
                    t0 = time.perf_counter()
                    out = lm.generate(**kw)
                    torch.cuda.synchronize(device)
                    times.append(time.perf_counter() - t0)
            new = out.shape[1] - ids.shape[1]
            t = statistics.median(times)
            emit(results, what="generate", lm=name, batch=batch, tokens_per_s=batch * new / t, step_ms=t * 1e3,
                 peak_gib=torch.cuda.max_memory_allocated(device) / 2**30, new_tokens=new, runs=a.gen_runs,
                 prompt=a.gen_prompt, all_runs_s=times)
        except Exception as e:  # noqa: BLE001 - report and go on
            traceback.print_exc()
            emit(results, what="generate", lm=name, batch=batch, error=f"{type(e).__name__}: {e}")
        free_cuda()
    del lm
    free_cuda()


def main(argv=None):
    global torch, nn, F, QFormer
    a = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    results = []
    print("# workload: stage1 Adam (xattn+queries 1e-4, rest 1e-5, no clip); stage2 AdamW wd 0.01 (Q-Former 1e-4, "
          f"adapter+LoRA 5e-4, clip 1.0), LoRA r={a.lora_r} alpha={a.lora_alpha:g} dropout={a.lora_dropout:g}; "
          f"batch {a.batch} and large {a.large_batch}; text {a.text_len}, queries {a.queries}, prompt {a.prompt_len}, "
          f"target {a.target_len}; warmup {a.warmup}, steps {a.steps}; generate prompt {a.gen_prompt}, new "
          f"{a.gen_new}, batches {a.gen_batches}, runs {a.gen_runs}; smoke={a.smoke}", flush=True)
    print("# FLOPs (matmuls only):\n# " + FORMULA.replace("\n", "\n# "), flush=True)
    try:
        import torch as _torch
        torch, nn, F = _torch, _torch.nn, _torch.nn.functional
        import peft
        import transformers
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        device = torch.device("cuda", 0)
        torch.manual_seed(a.seed)
        QFormer = define_qformer()
        print(f"# torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}, "
              f"{torch.cuda.get_device_name(device)}", flush=True)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        emit(results, what="setup", error=f"{type(e).__name__}: {e}")
        finish(results, a)
        return 1

    sizes = [("b8", a.batch)]
    for stage in (s for s in STAGES if s in a.only):
        parts = None
        try:
            if stage == "stage1":
                parts = build_stage1(a, device)
                fn = stage1_step_fn
                flops_fn = lambda b: stage1_step_flops(b, a.text_len, a.queries)  # noqa: E731
            else:
                parts = build_stage2(stage, a, device)
                fn = stage2_step_fn
                flops_fn = lambda b, s=stage: stage2_step_flops(b, s, a.queries, a.prompt_len, a.target_len,  # noqa
                                                                a.lora_r)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            emit(results, what="stage1" if stage == "stage1" else "stage2", lm=None if stage == "stage1" else stage,
                 error=f"build: {type(e).__name__}: {e}")
            parts = None
            free_cuda()
            continue
        for tag, batch in sizes + [("large", a.large_batch[stage])]:
            what, lm_name = ("stage1", None) if stage == "stage1" else ("stage2", stage)
            try:
                run_training(results, what, lm_name, parts, fn, batch, a, device, flops_fn, tag)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                emit(results, what=what, lm=lm_name, batch=batch, size=tag, error=f"{type(e).__name__}: {e}")
            parts["opt"].zero_grad(set_to_none=True)
            free_cuda()
        del parts
        free_cuda()

    if "generate" in a.only:
        for name in ("smollm", "qwen3"):
            try:
                bench_generation(results, name, a, device)
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                emit(results, what="generate", lm=name, error=f"{type(e).__name__}: {e}")
            free_cuda()
    finish(results, a)
    return 0


def finish(results, a):
    if a.json_out:
        try:
            with open(a.json_out, "w") as f:
                json.dump(results, f, indent=1)
        except OSError as e:
            print(f"# cannot write {a.json_out}: {e}", flush=True)
    print(flush=True)
    table(results)


if __name__ == "__main__":
    sys.exit(main())
