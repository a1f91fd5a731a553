#!/usr/bin/env bash
# Issue 5's ten-minute single-GPU pretraining run (docs/perf/training.md, "Single-GPU pretraining
# run"), in two device commands because one command may last 10 minutes at most: segment 1 trains
# for the first 5 minutes of training time and checkpoints into RUN_DIR, segment 2 resumes from that
# checkpoint and trains until the run's total training time reaches 10 minutes, then evaluates and
# checkpoints. The machine must still be warm for segment 2: RUN_DIR lives on its disk (a 1.4 GB
# checkpoint cannot travel back), under a git-ignored name so that the second call keeps it.
# $OUT/metrics.jsonl comes back; plot it here with io.mobaspark.trainer.metrics.LossCurvePlot
# METRICS PNG (the bundle's runtime image has no java.desktop, so it cannot draw there). The
# learning-rate schedule runs to MAX_STEPS; set it a little above the steps 10 minutes hold, so that
# the time bound ends the run (7000 for the 125M model on an H200: 6,228 steps in 10 minutes).
# The carry folder (under 64 MiB with the corpus: the bundle without the test tools, 45 MB, and the
# GPT-2-tokenized demo corpus, 11 MB, from data/fetch-npm-corpus.sh and the preprocess job):
#   tools/device/bundle-tests.sh .device-run && rm -f .device-run/moba_harness .device-run/lib/zz-*.jar \
#     .device-run/lib/junit-platform-console-standalone-*.jar && cp -r work/gpt2-corpus .device-run/corpus
# then two `run` calls with carry [".device-run"], the second right after the first:
#   tools/device/ten-minute-run.sh .device-run .device-run/corpus 1|2   (logs and metrics under $OUT)
set -euo pipefail
dev=${1:?usage: ten-minute-run.sh BUNDLE_DIR CORPUS_DIR 1|2}
corpus=${2:?usage: ten-minute-run.sh BUNDLE_DIR CORPUS_DIR 1|2}
segment=${3:?usage: ten-minute-run.sh BUNDLE_DIR CORPUS_DIR 1|2}
out=${OUT:-/tmp/ten-minute-run}
run_dir=${RUN_DIR:-.device-10min-run}
max_steps=${MAX_STEPS:-7000}
case "$segment" in
  1) minutes=5 ;;
  2) minutes=10 ;;
  *) echo "segment must be 1 or 2, got '$segment'" >&2; exit 2 ;;
esac
if [ "$segment" = 2 ] && [ ! -d "$run_dir/checkpoints" ]; then
  echo "no checkpoint of segment 1 in $run_dir: the machine was given back between the segments" >&2
  exit 3
fi
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$out/gpu.txt"
"$dev/java" -Xmx24g io.mobaspark.trainer.lab.PretrainWithoutSpark conf/pretrain/gpu-125m.conf \
  data.train="$corpus/train" data.val="$corpus/val" run.dir="$run_dir" \
  train.max_steps="$max_steps" train.max_minutes="$minutes" train.warmup_steps=100 \
  train.eval_every=200 train.checkpoint_every=1000000 train.keep_checkpoints=1 \
  train.log_every=200 2>&1 | tee "$out/segment-$segment.log"
cp "$run_dir/metrics.jsonl" "$out/metrics.jsonl"
