#!/usr/bin/env bash
# kiln's main job on its built-in default, from a fresh Debian 12 machine: install packages,
# build the kiln executable (only it: tests and benchmarks are scripts/test.sh's business),
# prepare the King James Bible corpus, train a character-level GPT on it (resuming if a run is
# already there), then print a sample from the final checkpoint. Extra arguments go to
# `kiln train` (for example --set train.max_steps=100).
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh kiln
scripts/prepare_corpus.sh kjv
step "training configs/gpt-char-kjv.yaml" "read kiln's message above"
build/kiln train configs/gpt-char-kjv.yaml --resume auto "$@"
checkpoint=$(ls runs/gpt-char-kjv/ckpt-*.h5 | tail -n 1)
step "evaluating and sampling $checkpoint" "read kiln's message above"
build/kiln eval --checkpoint "$checkpoint"
build/kiln sample --checkpoint "$checkpoint" --prompt "And God said" --max-new-tokens 400 --temperature 0.8
