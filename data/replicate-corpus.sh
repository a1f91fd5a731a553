#!/usr/bin/env bash
# A K-times larger corpus for throughput measurements that the dedup does not shrink back:
#   data/replicate-corpus.sh SRC DST K
# writes DST/copy-1 ... DST/copy-K, each a copy of every *.txt under SRC in which every paragraph
# (the text's start and each point after a blank line, "\n\n", that is followed by more text) begins
# with the marker "[k] ", k being the copy's number. Every chunk that the preprocess job cuts starts
# with a paragraph, so no chunk of one copy equals a chunk of another; within a copy the duplicates
# are those of SRC. The marker adds 3-4 GPT-2 tokens per paragraph.
set -euo pipefail
if [ $# -ne 3 ] || ! [[ $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 SRC DST K   (K >= 1 copies of SRC's *.txt, each made distinct)" >&2
  exit 2
fi
src=$(realpath "$1")
dst=$(realpath -m "$2")
if [ -e "$dst" ]; then
  echo "$0: $dst exists; choose a new folder" >&2
  exit 2
fi
for k in $(seq 1 "$3"); do
  (cd "$src" && find . -name '*.txt' -type f) | while read -r f; do
    mkdir -p "$(dirname "$dst/copy-$k/$f")"
    MARK="[$k] " perl -0777 -pe 's/(\A|\n\n)(?=[^\n])/$1$ENV{MARK}/g' "$src/$f" > "$dst/copy-$k/$f"
  done
done
echo "[replicate] $3 copies of $src in $dst: $(du -sh "$dst" | cut -f1)" >&2
