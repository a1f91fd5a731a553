#!/usr/bin/env bash
# Where the warp-specialized GEMM loses with K-major B (docs/gemm-cuda.md, "Where the time goes"):
# Nsight Compute on one warm launch of gemm_ws at the same M x N x K in the two B layouts,
# fwd up T64K (nt, B [N, K]: 467 TFLOP/s through Java on 2026-12-02) and dx down T64K (nn, B [K, N]:
# 554). Prints the speed-of-light, memory, warp-state and source-counter (top stall sites) lines of
# both; full reports under $OUT. Not yet run (no device time was left in the session that wrote it).
#
# Prepare here (nvcc 13.0; -lineinfo for the source counters):
#   D=/work/main/.device-NAME; mkdir -p $D; cp tools/device/gemm-ncu.sh $D/
#   nvcc -O3 -std=c++17 -lineinfo -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
#        -Ikernels/src/lab/cuda -o $D/gemm_harness kernels/src/lab/cuda/gemm_harness.cu
# Device command (run tool, carry [".device-NAME"], about 60 s): bash .device-NAME/gemm-ncu.sh
set -u
D=$(dirname "$0")
out=${OUT:-/tmp/gemm-ncu}
mkdir -p "$out"
chmod +x "$D/gemm_harness"
sections="--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SourceCounters"
for run in "nt:fwd up T64K" "nn:dx down T64K"; do
  tag=${run%%:*}
  shape=${run#*:}
  # The third gemm_ws launch of the shape's timing loop: caches and clocks warm.
  timeout 45 ncu --kernel-name regex:gemm_ws_ --launch-skip 2 --launch-count 1 $sections \
    "$D/gemm_harness" --only ws --no-check --shape "$shape" > "$out/ncu-$tag.txt" 2>&1
  echo "== $tag ($shape): exit $?"
done
for tag in nt nn; do
  echo "== $tag"
  grep -E "Duration|Throughput|Hit Rate|Warp Cycles Per Issued|Issued Warp|[Bb]ank|[Ss]tall" "$out/ncu-$tag.txt" | head -30
done
