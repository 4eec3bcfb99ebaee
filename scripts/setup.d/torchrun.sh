#!/usr/bin/env bash
# Test-time need of tests/e2e/workflow/torchrun_test.cpp: a real `torchrun` (Debian's
# python3-torch, 1.13) to launch `vlm train` on 2 ranks as the README says (the test skips
# without it). Safe to rerun: installs only what is missing.
set -euo pipefail
if command -v torchrun >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-torch
