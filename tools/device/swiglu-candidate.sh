#!/usr/bin/env bash
# gemm_tma3st_swiglu_nt, SwiGLU in the GEMM epilogue (docs/gemm-cuda.md "SwiGLU in the epilogue"),
# against the unfused path (two gemm_tma3st_nt + swiglu_forward_bf16) in
# one device command, checks first. No Java: the lab harness kernels/src/lab/cuda/swiglu_gemm_harness.cu.
#   tools/device/swiglu-candidate.sh DIR     (summary printed last and in $OUT/summary.txt, logs in $OUT/logs.tgz)
# DIR holds swiglu_gemm_harness, built on this machine (nvcc 13.0) with
#   nvcc -O3 -std=c++17 -lineinfo -gencode=arch=compute_90a,code=sm_90a -Xptxas -v -Ikernels/src/main/cuda \
#        -o DIR/swiglu_gemm_harness kernels/src/lab/cuda/swiglu_gemm_harness.cu
# or, where it is missing, the script builds it there (about 40 s). Steps, each binary under `timeout`
# (about 60 s on a warm H200 with a prebuilt harness):
#   0. SASS of the candidate: bulk tensor loads and stores (UTMALDG/UTMASTG), wgmma (HGMMA), no local
#      memory (LDL/STL);
#   1. --check: 6 awkward shapes against float64 and bit for bit against the unfused path; on failure
#      the rest is skipped;
#   2. compute-sanitizer memcheck on --check small;
#   3. --bench 8192 65536 (F 2048, C 768: paper-125m at batch 1 and 8 of 8192 tokens).
set -uo pipefail
dev=${1:?usage: swiglu-candidate.sh DIR}
out=${OUT:-/tmp/swiglu-candidate}
mkdir -p "$out"
# The device tool brings back at most 8 files from $OUT: the logs go there as one archive.
logs=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$logs/gpu.txt"
bin="$dev/swiglu_gemm_harness"
if [ ! -x "$bin" ]; then
  bin="$logs/swiglu_gemm_harness"
  timeout 120 nvcc -O3 -std=c++17 -lineinfo -gencode=arch=compute_90a,code=sm_90a -Xptxas -v \
    -Ikernels/src/main/cuda -o "$bin" kernels/src/lab/cuda/swiglu_gemm_harness.cu > "$logs/nvcc.txt" 2>&1
fi
t0=$(date +%s)

# 0. SASS.
cuobjdump -sass -fun gemm_tma3st_swiglu_nt "$bin" > "$logs/gemm_tma3st_swiglu_nt.sass" 2>&1
s="$logs/gemm_tma3st_swiglu_nt.sass"
sass="$(grep -c UTMALDG "$s")/$(grep -c UTMASTG "$s")/$(grep -c HGMMA "$s")/$(grep -cE 'LDL|STL' "$s")"

# 1. Checks.
timeout 120 "$bin" --check > "$logs/check.txt" 2>&1
check=$?
memcheck=- bench=-
if [ $check -eq 0 ]; then
  # 2. Out-of-bounds and misaligned accesses on the small cases.
  timeout 120 compute-sanitizer --tool memcheck "$bin" --check small > "$logs/memcheck.txt" 2>&1
  memcheck=$?
  # 3. Timings.
  timeout 90 "$bin" --bench 8192 65536 > "$logs/bench.txt" 2>&1
  bench=$?
fi
t1=$(date +%s)

{
  echo "== swiglu-candidate exit codes: check $check, memcheck $memcheck, bench $bench; seconds $((t1 - t0)); $(cat "$logs/gpu.txt")"
  echo "== sass of gemm_tma3st_swiglu_nt (UTMALDG/UTMASTG/HGMMA/LDL+STL): $sass"
  {
    cat "$logs/check.txt"
    grep -E "ERROR SUMMARY" "$logs/memcheck.txt"
    cat "$logs/bench.txt"
  } 2>/dev/null
} | tee "$out/summary.txt"
tar czf "$out/logs.tgz" -C "$logs" --exclude swiglu_gemm_harness . && rm -rf "$logs"
