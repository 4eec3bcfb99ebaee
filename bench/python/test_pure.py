#!/usr/bin/env python3
"""Checks of the torch-free parts of bench/python (argument parsing, FLOP formulas, the table) and of
tools/parity/make_fixtures.py's argument parsing. Runs anywhere: python3 bench/python/test_pure.py"""
import argparse
import io
import os
import sys
import unittest
from contextlib import redirect_stderr, redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "parity"))

import baseline  # noqa: E402
import flops  # noqa: E402
import make_fixtures  # noqa: E402


class Args(unittest.TestCase):
    def test_defaults_are_the_workload(self):
        a = baseline.parse_args([])
        self.assertEqual((a.steps, a.warmup, a.batch), (20, 5, 8))
        self.assertEqual(a.large_batch, {"stage1": 64, "smollm": 64, "qwen3": 32})
        self.assertEqual((a.text_len, a.queries, a.prompt_len, a.target_len), (32, 32, 32, 24))
        self.assertEqual((a.lora_r, a.lora_alpha, a.lora_dropout), (64, 128.0, 0.1))
        self.assertEqual((a.gen_batches, a.gen_prompt, a.gen_new, a.gen_runs), ([1, 32], 32, 128, 3))
        self.assertEqual(a.only, ["stage1", "smollm", "qwen3", "generate"])
        self.assertFalse(a.smoke)

    def test_large_batch_overrides_a_subset(self):
        a = baseline.parse_args(["--large-batch", "qwen3=16, stage1=128"])
        self.assertEqual(a.large_batch, {"stage1": 128, "smollm": 64, "qwen3": 16})

    def test_large_batch_rejects_garbage(self):
        for bad in ("qwen3", "llama=4", "qwen3=x", "qwen3=0"):
            with self.assertRaises(argparse.ArgumentTypeError, msg=bad):
                baseline.parse_large_batch(bad)

    def test_smoke_is_short_everywhere(self):
        a = baseline.parse_args(["--smoke"])
        self.assertEqual((a.steps, a.warmup, a.gen_runs), (2, 1, 1))
        self.assertTrue(all(v <= 16 for v in a.large_batch.values()))
        self.assertLessEqual(a.gen_new, 16)

    def test_only_rejects_unknown(self):
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            baseline.parse_args(["--only", "stage3"])

    def test_fixture_args(self):
        self.assertEqual(make_fixtures.parse_args([]).out, os.path.join("tests", "fixtures", "parity"))
        self.assertEqual(make_fixtures.parse_args(["/tmp/p"]).out, "/tmp/p")
        self.assertEqual(make_fixtures.parse_args(["--out", "/tmp/q"]).out, "/tmp/q")
        self.assertEqual(make_fixtures.parse_args(["x", "--only", "llama_lora"]).only, ["llama", "llama_lora"])


class Flops(unittest.TestCase):
    def test_weight_counts_match_the_published_sizes(self):
        # matmul weights per layer x layers + lm_head == the models' parameter counts less norms (tied embeddings)
        for name, expected_m in (("smollm", 134.5), ("qwen3", 596.0)):
            lm = flops.LMS[name]
            base, _, _ = flops.lm_fwd_parts(lm, tokens=1, lora_r=0)
            self.assertAlmostEqual(base / 2 / 1e6, expected_m, delta=0.6, msg=name)
        vit_layer_weights = flops.encoder_layer_fwd(1, 768, 3072) - 4 * 768  # one token: drop the attention term
        self.assertEqual(vit_layer_weights / 2 * 12, 84_934_656)  # ViT-B/16 encoder matmul weights

    def test_lora_counts(self):
        _, _, lora = flops.lm_fwd_parts(flops.LMS["qwen3"], tokens=1, lora_r=64)
        self.assertEqual(lora / 2, 64 * 28 * 22528)  # LoRA parameters on all 7 projections of Qwen3-0.6B

    def test_attention_products(self):
        _, attn, _ = flops.lm_fwd_parts(flops.LMS["smollm"], tokens=88, lora_r=64)
        self.assertEqual(attn, 30 * 4 * 88 * 88 * 9 * 64)

    def test_stage2_composition(self):
        lm = flops.LMS["smollm"]
        base, attn, lora = flops.lm_fwd_parts(lm, 88, 64)
        vit, q = flops.vit_fwd(), flops.qformer_image_fwd(32)
        adapter = 2 * 32 * (768 * 576 + 576 * 576)
        f = flops.stage2_step_flops(8, "smollm")
        self.assertEqual(f["forward"], 8 * (vit + q + adapter + base + attn + lora))
        self.assertEqual(f["backward"], 8 * (2 * (q + adapter + lora + attn) + base))
        self.assertEqual(f["total"], f["forward"] + f["backward"])
        self.assertEqual(flops.stage2_step_flops(16, "smollm")["total"], 2 * f["total"])

    def test_stage1_composition(self):
        f = flops.stage1_step_flops(4)
        train = flops.qformer_image_fwd(32) + flops.qformer_text_fwd(32)
        self.assertEqual(f["total"], 4 * (flops.vit_fwd() + 3 * train))

    def test_vit_forward_size(self):
        self.assertAlmostEqual(flops.vit_fwd() / 1e9, 35.1, delta=0.5)  # ViT-B/16 at 224: ~17.6 GMACs

    def test_utilisation(self):
        t, m = flops.utilisation(989e12, 1.0)
        self.assertAlmostEqual(t, 989.0)
        self.assertAlmostEqual(m, 1.0)
        self.assertEqual(flops.utilisation(1.0, 0.0), (None, None))


class Output(unittest.TestCase):
    def test_emit_and_table(self):
        rows = []
        buf = io.StringIO()
        with redirect_stdout(buf):
            r = baseline.emit(rows, what="stage2", lm="qwen3", batch=8, step_ms=12.5, mfu=0.123, extra=1)
            baseline.emit(rows, what="generate", lm="smollm", batch=1, error="x" * 100)
            baseline.table(rows)
        self.assertEqual(r["impl"], "python")
        self.assertEqual(set(baseline.FIELDS) - set(r), set())
        self.assertEqual(r["extra"], 1)
        lines = buf.getvalue().splitlines()
        self.assertEqual(len(lines), 2 + 3)
        self.assertIn("...", lines[-1])


if __name__ == "__main__":
    unittest.main()
