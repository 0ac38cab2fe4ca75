#!/usr/bin/env bash
# Writes the built-in corpora from Debian packages into corpora/ (idempotent):
#   kjv       corpora/kjv.txt       the King James Bible, one verse a line, a blank line
#                                   between chapters (a chapter is a document)
#   fortunes  corpora/fortunes.txt  every fortune, a blank line between entries (blank
#                                   lines inside an entry are dropped: an entry is a document)
#   fortunes-labelled  corpora/fortunes-labelled.jsonl  one {"text", "label"} line per entry of
#                                   the computers, food, law and science fortunes (the label is
#                                   the file's name), for configs/bert-classify-fortunes.yaml
#   es-en     corpora/es-en.tsv     one "reference<TAB>Spanish<TAB>English" line per verse: the
#                                   Reina-Valera 1909 (SWORD module spaRV1909eb) joined with the
#                                   KJV verse by verse (both use KJV versification)
# Usage: scripts/prepare_corpus.sh kjv|fortunes|fortunes-labelled|es-en|all
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

prepare_es_en() {
  [ -s corpora/es-en.tsv ] && return 0
  need diatheke diatheke
  need bible bible-kjv
  need python3 python3
  step "reading the Reina-Valera 1909 with diatheke(1)" \
    "install the Debian packages diatheke and sword-text-sparv (scripts/setup.sh installs them)"
  local tmp
  tmp=$(mktemp -d)
  diatheke -b spaRV1909eb -f plain -k "Gen 1:1-Rev 22:21" > "$tmp/es.txt"
  step "reading the King James Bible with bible(1)" "reinstall bible-kjv (apt-get install --reinstall bible-kjv)"
  bible -f "Genesis 1:1-Revelation 22:21" > "$tmp/en.txt"
  step "joining the two Bibles verse by verse" "read the Python error above"
  # Both texts list the same 31,102 verses in the same order; the join checks that each line
  # pair names the same chapter:verse, and fails on the first that does not.
  python3 - "$tmp/es.txt" "$tmp/en.txt" > corpora/es-en.tsv.tmp <<'PY'
import re, sys
es_lines = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines()
            if not l.startswith("(spaRV1909eb)")]
en_lines = open(sys.argv[2], encoding="utf-8").read().splitlines()
if len(es_lines) != len(en_lines):
    sys.exit(f"prepare_corpus: expected as many Spanish verses as English ones, got {len(es_lines)} and {len(en_lines)}")
es_verse = re.compile(r"^(.+?) (\d+):(\d+): ?(.*)$")   # "I Samuel 3:4: text"
en_verse = re.compile(r"^\S+?(\d+):(\d+) ?(.*)$")     # "1Sm3:4 text"
# Strong's numbers and other SWORD markup: <H3027>, <G5547>, <GN>, <HN>, and the
# angle-quote form some modules use (‹G…›).
tag = re.compile(r"<[^<>]*>|\u2039[^\u203a>]*[\u203a>]")
def clean(text):
    return " ".join(tag.sub(" ", text).split())
dropped = 0
for es, en in zip(es_lines, en_lines):
    m, n = es_verse.match(es), en_verse.match(en)
    if not m or not n or (m.group(2), m.group(3)) != (n.group(1), n.group(2)):
        sys.exit(f"prepare_corpus: verse mismatch: {es[:40]!r} vs {en[:40]!r}")
    spanish, english = clean(m.group(4)), clean(n.group(3))
    if not spanish or not english:
        dropped += 1
        continue
    print(f"{m.group(1)} {m.group(2)}:{m.group(3)}\t{spanish}\t{english}")
print(f"prepare_corpus: dropped {dropped} verse pairs with an empty side", file=sys.stderr)
PY
  rm -rf "$tmp"
  mv corpora/es-en.tsv.tmp corpora/es-en.tsv
  echo "prepare_corpus: corpora/es-en.tsv ($(wc -l < corpora/es-en.tsv) verse pairs)"
}

case "${1:-all}" in
  kjv) prepare_kjv ;;
  fortunes) prepare_fortunes ;;
  fortunes-labelled) prepare_fortunes_labelled ;;
  es-en) prepare_es_en ;;
  all) prepare_kjv; prepare_fortunes; prepare_fortunes_labelled; prepare_es_en ;;
  *) die "unknown corpus '${1}'; usage: scripts/prepare_corpus.sh kjv|fortunes|fortunes-labelled|es-en|all" ;;
esac
