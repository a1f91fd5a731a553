#!/usr/bin/env bash
# Runs the `preprocess` job on one corpus with two builds and compares their datasets file by file
# (sha256): a change to the pipeline that should not change its output is checked with it
# (docs/perf/preprocess.md, 2026-12-02). A build is a folder holding jobs.jar, classpath.txt and
# jvm-options.txt (the jobs module's target/ after `mvn package`, copied aside).
#   tools/preprocess-same-output.sh BEFORE_DIR AFTER_DIR CORPUS [preprocess options...]
set -euo pipefail
before=${1:?usage: preprocess-same-output.sh BEFORE_DIR AFTER_DIR CORPUS [options...]}
after=${2:?usage: preprocess-same-output.sh BEFORE_DIR AFTER_DIR CORPUS [options...]}
corpus=${3:?usage: preprocess-same-output.sh BEFORE_DIR AFTER_DIR CORPUS [options...]}
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for side in before after; do
  build=${!side}
  java -Xmx6g $(cat "$build/jvm-options.txt") -cp "$build/jobs.jar:$(cat "$build/classpath.txt")" \
    io.mobaspark.jobs.Main preprocess --input "$corpus" --output "$work/$side" --master 'local[2]' "$@" \
    2>&1 | grep -v -e " INFO " -e " WARN " | tail -3
  (cd "$work/$side" && find . -type f | sort | xargs sha256sum) > "$work/$side.sums"
done
echo "$(wc -l < "$work/before.sums") files"
if cmp -s "$work/before.sums" "$work/after.sums"; then
  echo "IDENTICAL: every file"
else
  echo "DIFFERENT:"; diff "$work/before.sums" "$work/after.sums" | head -20; exit 1
fi
