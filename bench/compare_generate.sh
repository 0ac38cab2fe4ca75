#!/bin/sh
# compare_generate.sh KILN [SHAPE...] -- KV-cached greedy decoding, kiln against the PyTorch
# loop of bench/torch_generate.py, same shapes, alternating runs; prints decode tokens/s of
# each and the median ratio kiln/torch. SHAPE: gpt-char or gpt2-124m, each at batch 1 and 8
# (default: all four). 32-token prompts, 200 new tokens, 2 threads.
# Example: bench/compare_generate.sh build/kiln gpt2-124m
set -eu
KILN=${1:?usage: compare_generate.sh PATH/TO/kiln [gpt-char|gpt2-124m ...]}; shift
HERE=$(cd "$(dirname "$0")" && pwd)
PAIRS=${PAIRS:-3}
[ $# -gt 0 ] || set -- gpt-char gpt2-124m
shape() {
  case $1 in
    gpt-char)  echo "--vocab-size 65 --n-layer 4 --n-head 4 --d-model 128" ;;
    gpt2-124m) echo "--vocab-size 50257 --n-layer 12 --n-head 12 --d-model 768" ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
printf '%-10s %5s %12s %12s %7s %9s %10s\n' shape batch kiln_tok/s torch_tok/s ratio kiln_bw% kiln_rss_mb
for s in "$@"; do
  for b in 1 8; do
    f="$(shape "$s") --batch-size $b --prompt-len 32 --new-tokens 200 --threads 2"
    ratios="" i=0
    while [ $i -lt "$PAIRS" ]; do
      ko=$("$KILN" bench --model gpt --generate $f)
      to=$(/usr/bin/python3 "$HERE/torch_generate.py" $f)
      k=$(echo "$ko" | field tokens_per_s); t=$(echo "$to" | field tokens_per_s)
      ratios="$ratios $(/usr/bin/python3 -c "print($k/$t)")"
      i=$((i+1))
    done
    med=$(/usr/bin/python3 -c "import statistics,sys; print(round(statistics.median(map(float,sys.argv[1:])),3))" $ratios)
    bw=$(echo "$ko" | field bandwidth_fraction); rss=$(echo "$ko" | field peak_rss_mb)
    printf '%-10s %5s %12s %12s %7s %9s %10s\n' "$s" "$b" "$k" "$t" "$med" "$bw" "$rss"
  done
done
