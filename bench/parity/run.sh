#!/bin/bash
# Step-by-step parity of a kiln BERT or Marian run with a PyTorch implementation (BERT: the
# shared reference; Marian: bench/parity/torch_marian.py): same initial weights, same batches,
# same optimizer recipe, dropout off. Needs a build with benchmarks (build/dump_bert_training)
# and Debian's python3-torch and python3-h5py.
#
#   bench/parity/run.sh [CONFIG] [STEPS]     (default configs/bert-mini-kjv.yaml, 60)
#   bench/parity/run.sh configs/translate-es-en.yaml 60
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:-configs/bert-mini-kjv.yaml}
steps=${2:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build/dump_bert_training "$config" "$steps" "$work/inputs.h5"
# The real schedule (max_steps unchanged), stopped once `steps` steps are logged.
build/kiln train "$config" --set log.every=1 --set run.out_dir="$work/kiln" --set model.dropout=0 \
  --set eval.every=0 --set checkpoint.every=0 >"$work/kiln.log" 2>&1 &
kiln_pid=$!
logged() { grep -c '"kind":"train"' "$work/kiln/metrics.jsonl" 2>/dev/null || true; }
until [ "$(logged)" -ge "$steps" ] 2>/dev/null; do
  kill -0 "$kiln_pid" 2>/dev/null || { cat "$work/kiln.log"; exit 1; }
  sleep 1
done
kill -KILL "$kiln_pid" 2>/dev/null || true
wait "$kiln_pid" 2>/dev/null || true
if grep -qE '^\s*arch:\s*marian' "$config"; then
  /usr/bin/python3 bench/parity/torch_marian_parity.py "$work/inputs.h5" "$work/kiln/metrics.jsonl"
else
  /usr/bin/python3 bench/parity/torch_bert_parity.py "$work/inputs.h5" "$work/kiln/metrics.jsonl" \
    --reference "${KILN_TORCH_REFERENCE:-../shared/bench}"
fi
