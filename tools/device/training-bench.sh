#!/usr/bin/env bash
# Issue 5's checks and benchmarks in one device command (docs/perf/training.md): correctness first
# (the parity labs of every op against the CPU backend, the GPU JUnit tests, whole model included),
# then the trainer's throughput with a per-op profile and the PyTorch twin on the same model, then the
# GEMM lab beside cuBLAS, then two data-parallel ranks sharing the GPU with and without the exchange
# overlapped with the backward; and issue 3's MoBA harness (parity cases, then the 64K paper shape
# beside FA2). Run on the GPU machine from the repository root with a bundle made by
# tools/device/bundle-tests.sh (which also builds the harness into it where nvcc is installed):
#   tools/device/training-bench.sh .device-main   (summary printed last and in $OUT/summary.txt,
#   logs in $OUT/logs.tgz)
# PARTS="checks trainer" picks a subset of: checks trainer torch gemm overlap moba (default: all six).
set -uo pipefail
dev=${1:?usage: training-bench.sh BUNDLE_DIR}
java="$dev/java"
out=${OUT:-/tmp/training-bench}
parts=${PARTS:-checks trainer torch gemm overlap moba}
want() { [[ " $parts " == *" $1 "* ]]; }
mkdir -p "$out"
# The device tool brings back at most 8 files from $OUT: the logs go there as one archive
# (logs.tgz) beside the summary (summary.txt).
logs=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$logs/gpu.txt"

labs="" junit=- trainer=- torch=- gemm=- overlap=- moba=-
parity_labs="OpsParity CudaParityLab MatmulParity GemmPaddingParity MobaParity"
if want checks; then
  for lab in $parity_labs; do
    timeout 240 "$java" "io.mobaspark.kernels.lab.$lab" > "$logs/$lab.txt" 2>&1
    labs="$labs $lab $?"
  done
  timeout 300 "$java" org.junit.platform.console.ConsoleLauncher execute \
    --select-class io.mobaspark.kernels.cuda.CudaKernelParityTest \
    --select-class io.mobaspark.kernels.cuda.AsyncHostCopiesTest \
    --select-class io.mobaspark.trainer.gpu.ModelGpuParityTest --details=summary > "$logs/junit.txt" 2>&1
  junit=$?
fi
want trainer && { timeout 240 "$java" -Xmx40g io.mobaspark.trainer.lab.TrainingThroughput conf/models/paper-125m.conf \
  --batch 8 --seq 8192 --steps 10 --warmup 3 --profile > "$logs/trainer.txt" 2>&1; trainer=$?; }
want torch && { timeout 150 python3 tools/torch_train_peer.py --config conf/models/paper-125m.conf --seq 8192 \
  --batch 8 --warmup 2 --steps 6 > "$logs/torch.txt" 2>&1; torch=$?; }
want gemm && { timeout 180 "$java" io.mobaspark.kernels.lab.GemmLab > "$logs/gemm_lab.txt" 2>&1 \
  && timeout 120 python3 tools/gemm_peer.py --ours "$logs/gemm_lab.txt" > "$logs/gemm.txt" 2>&1; gemm=$?; }
want overlap && { timeout 200 "$java" -Xmx60g io.mobaspark.trainer.lab.DataParallelOverlap \
  conf/models/paper-125m.conf --ranks 2 --batch 4 --seq 8192 --steps 5 --warmup 2 \
  > "$logs/overlap.txt" 2>&1; overlap=$?; }

want moba && { timeout 120 "$dev/moba_harness" --check > "$logs/moba_check.log" 2>&1 \
  && timeout 60 "$dev/moba_harness" --bench 65536 128 > "$logs/moba_bench.log" 2>&1 \
  && timeout 120 python3 tools/moba_peer.py fa2 128 65536 > "$logs/moba_fa2.log" 2>&1; moba=$?; }

{
  echo "== exit codes: parity labs:$labs; junit $junit, trainer $trainer, torch $torch, gemm $gemm, overlap $overlap, moba $moba"
  {
    want checks && for lab in $parity_labs; do echo "$lab: $(tail -1 "$logs/$lab.txt")"; done
    grep -E "tests (successful|failed)" "$logs/junit.txt"
    tail -2 "$logs/trainer.txt"
    grep "RESULT" "$logs/torch.txt"
    tail -20 "$logs/gemm.txt"
    tail -4 "$logs/overlap.txt"
    tail -1 "$logs/moba_check.log"; cat "$logs/moba_bench.log" "$logs/moba_fa2.log"
  } 2>/dev/null
} | tee "$out/summary.txt"
tar czf "$out/logs.tgz" -C "$logs" . && rm -rf "$logs"
