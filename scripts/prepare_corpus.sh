#!/usr/bin/env bash
# Writes the built-in corpora from Debian packages into corpora/ (idempotent):
#   kjv       corpora/kjv.txt       the King James Bible, one verse a line, a blank line
#                                   between chapters (a chapter is a document)
#   fortunes  corpora/fortunes.txt  every fortune, a blank line between entries (blank
#                                   lines inside an entry are dropped: an entry is a document)
# Usage: scripts/prepare_corpus.sh kjv|fortunes|all
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p corpora

prepare_kjv() {
  [ -s corpora/kjv.txt ] && return 0
  command -v bible >/dev/null || { echo "prepare_corpus: 'bible' not found; run scripts/setup.sh" >&2; exit 1; }
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
  [ -d "$dir" ] || { echo "prepare_corpus: $dir not found; run scripts/setup.sh" >&2; exit 1; }
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

case "${1:-all}" in
  kjv) prepare_kjv ;;
  fortunes) prepare_fortunes ;;
  all) prepare_kjv; prepare_fortunes ;;
  *) echo "usage: scripts/prepare_corpus.sh kjv|fortunes|all" >&2; exit 2 ;;
esac
