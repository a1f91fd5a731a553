#!/usr/bin/env bash
# The TMA-fed GEMM kernels (gemm_tma_*, gemm_tma3st_*, docs/gemm-cuda.md) through Java on the GPU
# machine, for the decision to make one the default: correctness first, then speed, in one device
# command. Run from
# the repository root with a bundle made by tools/device/bundle-tests.sh (jars of kernels and trainer
# with their tests, the JUnit launcher):
#   tools/device/tma-check.sh .device-final      (summary printed last and in $OUT/summary.txt, logs in $OUT/logs.tgz)
# Steps, each binary under `timeout` (about 140 s on a warm H200 with the defaults):
#   0. the bundle's sm_90a gemm image has bulk tensor loads (UTMALDG) in every gemm_tma* kernel and
#      bulk tensor stores (UTMASTG) in gemm_tma3st_*;
#   1. MatmulParity with -Dmobaspark.gemm.hopper=$KERNEL: every case (aligned ones on ws, wgmma, tma
#      and tma3st, awkward sizes, all transposes, split K) against float64; on failure the rest is
#      skipped;
#   2. JUnit CudaKernelParityTest (every op, matmul and padded matmul included) and
#      ModelGpuParityTest (a whole model's gradients and 20 steps against the CPU), $KERNEL as default;
#   3. GemmLab at the 13 training shapes on each of $LABS (each shape validated, then timed);
#      PEER=1 adds cuBLAS beside them (tools/gemm_peer.py, about 15 s);
#   4. TrainingThroughput paper-125m 8 x 8192, 6 steps, profiled, on each of $TRAINERS (~30 s each).
# KERNEL (default tma), LABS (default tma), TRAINERS (default "tma ws"; drop ws where the same
# command already has a ws run), e.g. KERNEL=tma3st LABS="tma tma3st" TRAINERS="tma tma3st".
set -uo pipefail
dev=${1:?usage: tma-check.sh BUNDLE_DIR}
java="$dev/java"
out=${OUT:-/tmp/tma-check}
mkdir -p "$out"
# The device tool brings back at most 8 files from $OUT: the logs go there as one archive
# (logs.tgz) beside the summary (summary.txt).
logs=$(mktemp -d)
kernel=${KERNEL:-tma}
tma=-Dmobaspark.gemm.hopper=$kernel
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$logs/gpu.txt"
t0=$(date +%s)

# 0. SASS of the image the trainer loads (inside the kernels jar; the 5 MB cubin stays out of $OUT).
cubin=$(mktemp --suffix=.cubin)
python3 - "$dev" "$cubin" <<'PY'
import glob, sys, zipfile
jar = [j for j in glob.glob(sys.argv[1] + "/lib/mobaspark-kernels-*.jar") if "tests" not in j][0]
with zipfile.ZipFile(jar) as z:
    open(sys.argv[2], "wb").write(z.read("io/mobaspark/kernels/cuda/gemm.sm_90a.cubin"))
PY
sass=""
for f in gemm_tma_{nn,nt,tn,tt} gemm_tma3st_{nn,nt,tn,tt}; do
  cuobjdump -sass -fun "$f" "$cubin" > "$logs/$f.sass" 2>&1
  sass="$sass $f $(grep -c UTMALDG "$logs/$f.sass")/$(grep -c UTMASTG "$logs/$f.sass")/$(grep -c HGMMA "$logs/$f.sass")/$(grep -cE 'LDL|STL' "$logs/$f.sass");"
done
rm -f "$cubin"

# 1. Matmul parity, every kernel.
timeout 60 "$java" $tma io.mobaspark.kernels.lab.MatmulParity > "$logs/MatmulParity.txt" 2>&1
parity=$?
t1=$(date +%s)
junit=- labs="" trainers="" peer=-
if [ $parity -eq 0 ]; then
  # 2. The GPU JUnit classes that multiply, with tma as every matmul's kernel.
  timeout 120 "$java" $tma org.junit.platform.console.ConsoleLauncher execute --details=summary \
    --select-class io.mobaspark.kernels.cuda.CudaKernelParityTest \
    --select-class io.mobaspark.trainer.gpu.ModelGpuParityTest > "$logs/junit.txt" 2>&1
  junit=$?
  t2=$(date +%s)
  # 3. The training shapes.
  for h in ${LABS:-tma}; do
    timeout 40 "$java" -Dmobaspark.gemm.hopper=$h io.mobaspark.kernels.lab.GemmLab > "$logs/gemm_lab-$h.txt" 2>&1
    labs="$labs $h $?"
    if [ "${PEER:-0}" = 1 ]; then
      timeout 60 python3 tools/gemm_peer.py --ours "$logs/gemm_lab-$h.txt" > "$logs/gemm_peer-$h.txt" 2>&1
      peer=$?
    fi
  done
  t3=$(date +%s)
  # 4. The trainer's step on each kernel, same command.
  for h in ${TRAINERS:-tma ws}; do
    timeout 60 "$java" -Xmx40g -Dmobaspark.gemm.hopper=$h io.mobaspark.trainer.lab.TrainingThroughput \
      conf/models/paper-125m.conf --batch 8 --seq 8192 --steps 6 --warmup 2 --profile > "$logs/trainer-$h.txt" 2>&1
    trainers="$trainers $h $?"
  done
  t4=$(date +%s)
  times="parity $((t1 - t0)) junit $((t2 - t1)) gemm_lab $((t3 - t2)) trainers $((t4 - t3))"
else
  times="parity $((t1 - t0)) (failed: the rest skipped)"
fi

{
  echo "== tma-check ($kernel) exit codes: MatmulParity $parity, junit $junit, GemmLab:${labs:- -}, peer $peer, trainer:${trainers:- -}; seconds: $times"
  echo "== sass (UTMALDG/UTMASTG/HGMMA/LDL+STL):$sass"
  {
    grep -E "FAIL|Exception|rror" "$logs/MatmulParity.txt" | head -8
    tail -1 "$logs/MatmulParity.txt"
    grep -E "tests (successful|failed)" "$logs/junit.txt"
    grep -E "MethodSource|=>" "$logs/junit.txt" | head -6
    for h in ${LABS:-tma}; do
      echo "== GemmLab $h"; grep -E "\| $h|validated|FAIL" "$logs/gemm_lab-$h.txt" | head -16; tail -16 "$logs/gemm_peer-$h.txt"
    done
    for h in ${TRAINERS:-tma ws}; do echo "== trainer $h"; tail -2 "$logs/trainer-$h.txt"; done
  } 2>/dev/null
} | tee "$out/summary.txt"
tar czf "$out/logs.tgz" -C "$logs" . && rm -rf "$logs"
