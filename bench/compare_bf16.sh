#!/bin/sh
# compare_bf16.sh KILN [CONFIG...] -- bf16 mixed precision side by side: kiln bench
# --precision bf16, kiln's fp32 and the PyTorch reference's --autocast bf16, same flags
# (those of ../shared/bench/compare.sh), alternating runs. Prints tokens/s of each (last round),
# the median ratios kiln bf16 / kiln fp32 and kiln bf16 / torch autocast, and peak RSS.
# CONFIG: gpt-char gpt-mini gpt2-124m bert-mini bert-small (default: gpt-mini gpt2-124m).
# Needs a CPU with AVX512_BF16 or AMX-BF16; kiln refuses bf16 elsewhere, with the reason.
# Example: PAIRS=3 bench/compare_bf16.sh build/kiln gpt-mini
set -eu
KILN=${1:?usage: compare_bf16.sh PATH/TO/kiln [CONFIG...]}; shift
REFERENCE=$(cd "$(dirname "$0")/../../shared/bench" && pwd)/torch_reference.py
PAIRS=${PAIRS:-3}
[ $# -gt 0 ] || set -- gpt-mini gpt2-124m
flags() {
  case $1 in
    gpt-char)   echo "--model gpt --vocab-size 65 --n-layer 4 --n-head 4 --d-model 128 --seq-len 64 --batch-size 12 --steps 30 --warmup-steps 5" ;;
    gpt-mini)   echo "--model gpt --vocab-size 8192 --n-layer 6 --n-head 6 --d-model 384 --seq-len 256 --batch-size 8 --steps 6 --warmup-steps 2" ;;
    gpt2-124m)  echo "--model gpt --vocab-size 50257 --n-layer 12 --n-head 12 --d-model 768 --seq-len 256 --batch-size 4 --steps 3 --warmup-steps 1" ;;
    bert-mini)  echo "--model bert --vocab-size 30522 --n-layer 4 --n-head 4 --d-model 256 --seq-len 128 --batch-size 16 --steps 6 --warmup-steps 2" ;;
    bert-small) echo "--model bert --vocab-size 30522 --n-layer 4 --n-head 8 --d-model 512 --seq-len 128 --batch-size 8 --steps 6 --warmup-steps 2" ;;
    *) echo "compare_bf16.sh: unknown config $1" >&2; exit 2 ;;
  esac
}
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
median() { /usr/bin/python3 -c "import statistics,sys; print(round(statistics.median(map(float,sys.argv[1:])),3))" "$@"; }
printf '%-11s %10s %10s %10s %9s %10s %9s %9s %9s\n' config kiln_bf16 kiln_fp32 torch_bf16 \
  bf16/fp32 kiln/torch rss_bf16 rss_fp32 rss_torch
for c in "$@"; do
  f="$(flags "$c") --threads 2"
  over_fp32="" over_torch="" i=0
  while [ $i -lt "$PAIRS" ]; do
    bo=$("$KILN" bench $f --precision bf16)
    fo=$("$KILN" bench $f --precision fp32)
    to=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$REFERENCE" $f --autocast bf16)
    b=$(echo "$bo" | field tokens_per_s); k=$(echo "$fo" | field tokens_per_s)
    t=$(echo "$to" | field tokens_per_s)
    over_fp32="$over_fp32 $(/usr/bin/python3 -c "print($b/$k)")"
    over_torch="$over_torch $(/usr/bin/python3 -c "print($b/$t)")"
    i=$((i+1))
  done
  printf '%-11s %10s %10s %10s %9s %10s %9s %9s %9s\n' "$c" "$b" "$k" "$t" \
    "$(median $over_fp32)" "$(median $over_torch)" "$(echo "$bo" | field peak_rss_mb)" \
    "$(echo "$fo" | field peak_rss_mb)" "$(echo "$to" | field peak_rss_mb)"
done
