#!/usr/bin/env bash
# Runs the whole test suite (after scripts/setup.sh has built build/).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
