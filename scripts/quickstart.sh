#!/usr/bin/env bash
# kiln's main job on its built-in default, from a fresh Debian 12 machine: install packages,
# build, prepare the King James Bible corpus, train a character-level GPT on it (resuming if
# a run is already there), then print a sample from the final checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
scripts/prepare_corpus.sh kjv
build/kiln train configs/gpt-char-kjv.yaml --resume auto "$@"
checkpoint=$(ls runs/gpt-char-kjv/ckpt-*.h5 | tail -n 1)
build/kiln eval --checkpoint "$checkpoint"
build/kiln sample --checkpoint "$checkpoint" --prompt "And God said" --max-new-tokens 400 --temperature 0.8
