#!/usr/bin/env bash
# The GPU checks of one device session, in one run (a GPU machine is lent for minutes, not hours):
#   1. the project's Debian libraries, carried as .deb files in .devdeb/ (the machine has no
#      package registry), unpacked under /opt/deb and found through pkg-config's sysroot;
#   2. configure and build against the CUDA LibTorch inside the machine's pip PyTorch;
#   3. the GPU tests, then our benchmarks (bench_stage_step, bench_generate), then the Python
#      baseline (bench/python/baseline.py), then the whole test suite;
#   4. transformers parity fixtures (tools/parity/make_fixtures.py), in the background.
# Everything lands in $OUT; the last lines printed are the benchmark table.
#   OUT=/tmp/out tools/gpu/device_checks.sh [--skip-python] [--budget SECONDS] [--dry] [--build-dir DIR]
# --dry (also chosen when the machine has no nvidia-smi): the same script end to end on a CPU
# machine, so a GPU session's minutes are not spent on script errors: it builds the same targets
# in DIR (default: build, the CPU build, incrementally; Debian's libraries as installed), runs the
# GPU tests (they skip without CUDA), one tiny CPU benchmark in place of the GPU ones, the GPU-labelled
# ctest subset in place of the whole suite, and writes the report; each skipped GPU part says so.
set -u
OUT=${OUT:?set OUT to a folder for the results}
BUDGET=585
SKIP_PYTHON=0
DRY=0
BUILD_DIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-python) SKIP_PYTHON=1 ;;
    --budget) BUDGET=$2; shift ;;
    --dry) DRY=1 ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    *) echo "device_checks: unknown option $1 (see the header)" >&2; exit 2 ;;
  esac
  shift
done
if [ $DRY = 0 ] && ! command -v nvidia-smi > /dev/null; then
  echo "device_checks: no nvidia-smi on this machine: running the dry mode (--dry)"
  DRY=1
fi
[ -n "$BUILD_DIR" ] || { [ $DRY = 1 ] && BUILD_DIR=build || BUILD_DIR=build-gpu; }
B=$BUILD_DIR
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[$(elapsed)s] $*"; }
mkdir -p "$OUT"

skip() { say "dry: skipped $* (needs a GPU)"; }
[ $DRY = 1 ] && say "dry mode: build dir $B, no GPU parts"
say "machine: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1); $(nproc) cores"
python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "peft", peft.__version__)' 2>&1 | tail -1
(. /etc/os-release && echo "os: $PRETTY_NAME"); gcc --version | head -1; cmake --version | head -1

# 1. Libraries.
if [ $DRY = 1 ]; then
  skip "unpacking .devdeb/*.deb: the installed Debian libraries serve ($(pkg-config --modversion yaml-cpp libturbojpeg 2>&1 | tr '\n' ' '))"
  LIBDIR=/usr/lib/x86_64-linux-gnu
else
DEB=/opt/deb
mkdir -p $DEB
for f in .devdeb/*.deb; do dpkg -x "$f" $DEB; done
LIBDIR=$DEB/usr/lib/x86_64-linux-gnu
cat > $DEB/pkg-config <<EOS
#!/bin/sh
export PKG_CONFIG_SYSROOT_DIR=$DEB PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$DEB/usr/share/pkgconfig
LD_LIBRARY_PATH=$LIBDIR exec $DEB/usr/bin/pkgconf "\$@"
EOS
chmod +x $DEB/pkg-config
say "libraries unpacked: $($DEB/pkg-config --modversion yaml-cpp libcurl libturbojpeg 2>&1 | tr '\n' ' ')"
fi

# 2. Build (parity fixtures meanwhile: CPU only, small).
mkdir -p /tmp/parity
PARITY=
if python3 -c 'import torch, transformers' 2> /dev/null; then
  (python3 tools/parity/make_fixtures.py --out /tmp/parity/fixtures > /tmp/parity/make_fixtures.log 2>&1
   echo "parity fixtures: exit $?" >> /tmp/parity/make_fixtures.log) &
  PARITY=$!
else
  echo "parity fixtures: skipped, python3 has no torch + transformers" > /tmp/parity/make_fixtures.log
fi
if [ $DRY = 1 ]; then
  # The CPU build as it is configured (cmake re-runs its own configure step when needed).
  if [ -f "$B/CMakeCache.txt" ]; then echo "dry: reusing $B's configuration" > "$OUT/build.log"; CONFIGURE=0
  else cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release > "$OUT/build.log" 2>&1; CONFIGURE=$?; fi
else
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX;$DEB/usr" -DPKG_CONFIG_EXECUTABLE=$DEB/pkg-config \
  -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES=90 -DTORCH_CUDA_ARCH_LIST=9.0 -DVLM_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="-idirafter $DEB/usr/include" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags -Wl,-rpath,$LIBDIR" > "$OUT/build.log" 2>&1
CONFIGURE=$?
fi
# Keep going past errors: ninja takes -k 0, make takes -k.
[ -f "$B/build.ninja" ] && KEEP_GOING=(-k 0) || KEEP_GOING=(-k)
say "configure: exit $CONFIGURE ($(grep -c 'GPU code paths enabled' "$OUT/build.log") CUDA line)"
[ $CONFIGURE = 0 ] || tail -40 "$OUT/build.log"
B0=$(elapsed)
# What the GPU tests and benchmarks need first; the rest of the test suite after the benchmarks.
timeout $(( $(left) - 240 )) cmake --build "$B" -j "$(nproc)" --target vlm bench_stage_step bench_stage_step_graph \
  bench_generate test_unit_gpu test_e2e_gpu -- "${KEEP_GOING[@]}" >> "$OUT/build.log" 2>&1
BUILD=$?
say "build: exit $BUILD in $(( $(elapsed) - B0 ))s; $(grep -c 'warning:' "$OUT/build.log") warnings, $(grep -c 'error:' "$OUT/build.log") errors"
grep -m 20 -B2 'error:' "$OUT/build.log" | cut -c1-400
[ $DRY = 1 ] || export LD_LIBRARY_PATH=$LIBDIR  # our programs only; the Python runs below unset it

# 3a. GPU tests first.
for t in "$B"/tests/test_unit_gpu "$B"/tests/test_e2e_gpu; do
  [ -x "$t" ] || { say "missing $t"; continue; }
  timeout 300 "$t" >> "$OUT/gpu_tests.log" 2>&1
  say "$(basename "$t"): exit $?, $(grep -c '^\[  SKIPPED \]' "$OUT/gpu_tests.log") skipped so far"
  grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/gpu_tests.log" | tail -5
done

# 3b. Our benchmarks.
: > "$OUT/ours.jsonl"
run_ours() { [ "$(left)" -gt 60 ] && timeout 90 "$@" --device cuda >> "$OUT/ours.jsonl" 2>> "$OUT/gpu_tests.log"; }
if [ $DRY = 1 ]; then
  # One tiny CPU step through the same JSON path, so report.py below has a row to read.
  [ -x "$B/bench/bench_stage_step" ] && timeout 120 "$B/bench/bench_stage_step" --stage 1 --batch 1 --steps 1 \
    --warmup 0 --device cpu >> "$OUT/ours.jsonl" 2>> "$OUT/gpu_tests.log"
  say "dry: bench_stage_step on the CPU: exit $?"
  skip "the CUDA benchmarks (bench_stage_step, bench_stage_step_graph, bench_generate --device cuda)"
elif [ -x "$B/bench/bench_stage_step" ]; then
  for args in "--stage 1 --batch 8" "--stage 1 --batch 128" "--stage 2 --lm smollm --batch 8" \
              "--stage 2 --lm smollm --batch 128" "--stage 2 --lm qwen3 --batch 8" "--stage 2 --lm qwen3 --batch 64"; do
    run_ours "$B"/bench/bench_stage_step $args --steps 20 --warmup 5
  done
  for args in "--stage 1 --batch 8" "--stage 2 --lm smollm --batch 8" "--stage 2 --lm qwen3 --batch 8"; do
    [ -x "$B"/bench/bench_stage_step_graph ] && run_ours "$B"/bench/bench_stage_step_graph $args --steps 20 --warmup 5
  done
  run_ours "$B"/bench/bench_generate --lm smollm --batches 1,32 --runs 2
  run_ours "$B"/bench/bench_generate --lm qwen3 --batches 1,32 --runs 2
fi
say "ours: $(wc -l < "$OUT/ours.jsonl") results"

# 3c. The Python baseline on the same GPU, right after.
if [ $DRY = 1 ]; then
  skip "the Python baseline (bench/python/baseline.py needs CUDA, transformers and peft)"
elif [ $SKIP_PYTHON = 0 ] && [ "$(left)" -gt 90 ]; then
  (unset LD_LIBRARY_PATH; PYTHONUNBUFFERED=1 timeout $(( $(left) - 60 )) python3 bench/python/baseline.py \
     --large-batch stage1=128,smollm=128,qwen3=64 --gen-runs 2 --json-out "$OUT/python.json" > "$OUT/python.log" 2>&1)
  say "python baseline: exit $?"; tail -5 "$OUT/python.log"
fi

# 3d. The whole suite with what time is left.
if [ $DRY = 1 ]; then
  skip "the whole suite in the CUDA build: the GPU-labelled tests instead"
  (cd "$B" && timeout $(( $(left) > 60 ? $(left) - 15 : 45 )) ctest -L gpu --timeout 300 --output-on-failure \
     > "$OUT/ctest.log" 2>&1)
  say "ctest -L gpu: exit $?"; grep -E "tests passed|tests failed|\*\*\*Failed|Timeout" "$OUT/ctest.log" | head -20
else
if [ "$(left)" -gt 60 ]; then
  B1=$(elapsed)
  timeout $(( $(left) - 40 )) cmake --build "$B" -j "$(nproc)" -- "${KEEP_GOING[@]}" >> "$OUT/build.log" 2>&1
  say "build of the rest: exit $? in $(( $(elapsed) - B1 ))s; $(grep -c 'error:' "$OUT/build.log") errors in all"
fi
if [ "$(left)" -gt 30 ]; then
  (cd "$B" && timeout $(( $(left) - 15 )) ctest -j 12 --timeout 120 --output-on-failure > "$OUT/ctest.log" 2>&1)
  say "ctest: exit $?"; grep -E "tests passed|tests failed|\*\*\*Failed|Timeout" "$OUT/ctest.log" | head -20
fi
fi
[ -n "$PARITY" ] && wait $PARITY 2>/dev/null; tail -2 /tmp/parity/make_fixtures.log; tar czf "$OUT/parity.tgz" -C /tmp/parity .
gzip -f "$OUT/build.log"
(unset LD_LIBRARY_PATH; python3 tools/gpu/report.py "$OUT/ours.jsonl" "$OUT/python.json" 2>&1 | tee "$OUT/table.md")
say "done"
