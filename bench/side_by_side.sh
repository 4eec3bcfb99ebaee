#!/usr/bin/env bash
# vlm's training step against the same workload in plain PyTorch, run alternately on this CPU:
# bench_stage_step (bench/stage_step.cpp) and bench/python/plain_stage_step.py, for stage 1 (fp32)
# and stage 2 with SmolLM-135M + LoRA (fp32 and bf16 autocast), ROUNDS times each, interleaved so
# that a change in the machine's load hits both alike. Both print one JSON line with their step
# time, CPU seconds per step (getrusage) and trainable parameter count; this script appends a
# "ratio" line per case (PyTorch CPU s / vlm CPU s, median over rounds).
# A case "STAGE:PRECISION:cached" gives vlm --cached-features (vision.feature_cache: the step reads
# the frozen ViT's features instead of running it); the plain program always runs the ViT.
#   bench/side_by_side.sh [BUILD_DIR]   env: ROUNDS=2 STEPS=5 WARMUP=2 THREADS=2 CASES="1:fp32 2:fp32 2:bf16"
# Needs Debian's python3-torch (apt-get install python3-torch; a bench-time need, not in setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
rounds=${ROUNDS:-2} steps=${STEPS:-5} warmup=${WARMUP:-2} threads=${THREADS:-2}
cases=${CASES:-"1:fp32 2:fp32 2:bf16"}
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "side_by_side: $py has no torch: apt-get install python3-torch (or set PYTHON)" >&2
  exit 1
fi
[[ -x $build/bench/bench_stage_step ]] || { echo "side_by_side: no $build/bench/bench_stage_step: build it first" >&2; exit 1; }
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for c in $cases; do
  IFS=: read -r stage precision variant <<< "$c"
  args=(--stage "$stage" --batch 8 --steps "$steps" --warmup "$warmup" --precision "$precision" --threads "$threads")
  extra=()
  [[ $variant == cached ]] && extra=(--cached-features)
  for ((r = 0; r < rounds; ++r)); do
    "$build/bench/bench_stage_step" "${args[@]}" "${extra[@]}" --device cpu | sed "s/^{/{\"case\": \"$c\", /" | tee -a "$out"
    "$py" "$here/python/plain_stage_step.py" "${args[@]}" | sed "s/^{/{\"case\": \"$c\", /" | tee -a "$out"
  done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for case in dict.fromkeys(r["case"] for r in rows):
    pick = lambda impl, f: [r[f] for r in rows if (r["case"], r["impl"]) == (case, impl)]
    vlm, pt = pick("cpp", "cpu_s_per_step"), pick("pytorch", "cpu_s_per_step")
    if vlm and pt:
        print(json.dumps({"ratio": case, "vlm_cpu_s": statistics.median(vlm),
                          "pytorch_cpu_s": statistics.median(pt),
                          "pytorch_over_vlm": statistics.median(pt) / statistics.median(vlm),
                          "vlm_step_ms": statistics.median(pick("cpp", "step_ms")),
                          "pytorch_step_ms": statistics.median(pick("pytorch", "step_ms")),
                          "trainable": [pick("cpp", "trainable_params")[0], pick("pytorch", "trainable_params")[0]]}))
PY
