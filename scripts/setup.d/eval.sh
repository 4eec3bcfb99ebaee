#!/usr/bin/env bash
# Test-time needs of the evaluation tests: headless Chromium for tests/e2e/report (the report
# test skips without it). Safe to rerun: installs only what is missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
