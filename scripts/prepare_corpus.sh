#!/usr/bin/env bash
# Writes the built-in corpora from Debian packages into corpora/ (idempotent):
#   kjv       corpora/kjv.txt       the King James Bible, one verse a line, a blank line
#                                   between chapters (a chapter is a document)
#   fortunes  corpora/fortunes.txt  every fortune, a blank line between entries (blank
#                                   lines inside an entry are dropped: an entry is a document)
#   fortunes-labelled  corpora/fortunes-labelled.jsonl  one {"text", "label"} line per entry of
#                                   the computers, food, law and science fortunes (the label is
#                                   the file's name), for configs/bert-classify-fortunes.yaml
# Usage: scripts/prepare_corpus.sh kjv|fortunes|fortunes-labelled|all
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
mkdir -p corpora

prepare_kjv() {
  [ -s corpora/kjv.txt ] && return 0
  need bible bible-kjv
  step "reading the King James Bible with bible(1)" "reinstall bible-kjv (apt-get install --reinstall bible-kjv)"
  # "Ge1:1 In the beginning..." -> "In the beginning...", blank line when the chapter changes.
  bible -f "Genesis 1:1-Revelation 22:21" |
    awk '{ ref = $1; sub(/:[0-9]+$/, "", ref);
           if (NR > 1 && ref != last) print "";
           last = ref; sub(/^[^ ]+ /, ""); print }' > corpora/kjv.txt.tmp
  mv corpora/kjv.txt.tmp corpora/kjv.txt
  echo "prepare_corpus: corpora/kjv.txt ($(wc -c < corpora/kjv.txt) bytes)"
}

prepare_fortunes() {
  [ -s corpora/fortunes.txt ] && return 0
  local dir=/usr/share/games/fortunes
  [ -d "$dir" ] || die "$dir not found; install the Debian package fortunes (scripts/setup.sh installs it)"
  step "reading the fortunes in $dir" "reinstall fortunes (apt-get install --reinstall fortunes)"
  # Entries end with a line holding only "%"; each becomes a paragraph.
  for f in "$dir"/*; do
    case "$f" in *.dat|*.u8) continue ;; esac
    [ -f "$f" ] && cat "$f" && printf '\n%%\n'
  done | awk 'BEGIN { entry = "" }
              /^%$/ { if (entry != "") printf "%s\n", entry; entry = ""; next }
              /^[ \t]*$/ { next }
              { entry = entry $0 "\n" }' > corpora/fortunes.txt.tmp
  mv corpora/fortunes.txt.tmp corpora/fortunes.txt
  echo "prepare_corpus: corpora/fortunes.txt ($(wc -c < corpora/fortunes.txt) bytes)"
}

prepare_fortunes_labelled() {
  [ -s corpora/fortunes-labelled.jsonl ] && return 0
  local dir=/usr/share/games/fortunes
  [ -d "$dir" ] || die "$dir not found; install the Debian package fortunes (scripts/setup.sh installs it)"
  need python3 python3
  step "labelling the fortunes in $dir" "read the Python error above"
  # As for fortunes.txt: entries end with a "%" line and their blank lines are dropped; also
  # drop overstrike pairs ("_\bX"), and let json.dumps do the escaping.
  python3 - "$dir" computers food law science > corpora/fortunes-labelled.jsonl.tmp <<'PY'
import json, re, sys
folder, labels = sys.argv[1], sys.argv[2:]
for label in labels:
    with open(f"{folder}/{label}", encoding="utf-8", errors="replace") as f:
        text = re.sub(r".\x08", "", f.read())
    for entry in re.split(r"^%$", text, flags=re.M):
        lines = [line.rstrip() for line in entry.splitlines() if line.strip()]
        if lines:
            print(json.dumps({"text": "\n".join(lines), "label": label}, ensure_ascii=False))
PY
  mv corpora/fortunes-labelled.jsonl.tmp corpora/fortunes-labelled.jsonl
  echo "prepare_corpus: corpora/fortunes-labelled.jsonl ($(wc -l < corpora/fortunes-labelled.jsonl) entries)"
}

case "${1:-all}" in
  kjv) prepare_kjv ;;
  fortunes) prepare_fortunes ;;
  fortunes-labelled) prepare_fortunes_labelled ;;
  all) prepare_kjv; prepare_fortunes; prepare_fortunes_labelled ;;
  *) die "unknown corpus '${1}'; usage: scripts/prepare_corpus.sh kjv|fortunes|fortunes-labelled|all" ;;
esac
