#!/usr/bin/env bash
# GEMM kernel variants side by side (docs/gemm-cuda.md, "The warp-specialized kernel: measured") on the GPU machine:
# prebuilt harness binaries (nothing is compiled there), each family's float64 checks first, then its
# timings, then cuBLAS through gemm_peer.py in the same command; prints one table last. About 45 s;
# each binary is bounded by a timeout so that a hang (a lost mbarrier arrival) costs 20 s, not the run.
#
# Prepare on the development machine (nvcc 13.0), from the repository root or a worktree:
#   D=/work/main/.device-gemmprep; mkdir -p $D
#   for v in "ws4:" "ws3:-DWS_STAGES=3" "lag0:-DWS_FORWARD_LAG=0"; do
#     nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda -Ikernels/src/lab/cuda \
#          -DGEMM_WS ${v#*:} -Xptxas -v -o $D/gemm_harness_${v%%:*} kernels/src/lab/cuda/gemm_harness.cu
#   done
#   cp tools/device/gemm-candidates.sh $D/run.sh; cp tools/gemm_peer.py $D/
# Device command (run tool, carry [".device-gemmprep"]): bash .device-gemmprep/run.sh
# If a candidate fails or hangs: bash .device-gemmprep/run.sh sanitize FAMILY [BINARY] runs its checks
# alone (no timings) under compute-sanitizer memcheck and synccheck, then racecheck (which may not
# model the async proxy's wgmma reads and bulk copies: a hazard it reports there needs reading).
set -u
D=$(dirname "$0")
OUT=${OUT:-/tmp/gemm-candidates}
mkdir -p "$OUT"
chmod +x "$D"/gemm_harness_* 2>/dev/null

if [ "${1:-}" = sanitize ]; then
  family=${2:?family: ws or wspair}
  binary=${3:-ws4}
  for tool in memcheck synccheck racecheck; do
    timeout 90 compute-sanitizer --tool "$tool" --print-limit 20 "$D/gemm_harness_$binary" --only "$family" \
      --checks-only >"$OUT/sanitize-$tool.txt" 2>&1
    echo "$tool: exit $?; $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|correctness' "$OUT/sanitize-$tool.txt" | tr '\n' ' ')"
  done
  exit 0
fi
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader | tee "$OUT/gpu.txt"

# label:binary:family: the landed kernel, the warp-specialized kernel (4 and 3 stages), the pair
# (forwarding one step after issuing, and right after).
RUNS="wgmma:ws4:wgmma ws4:ws4:ws ws3:ws3:ws wspair:ws4:wspair wspair0:lag0:wspair"
for run in $RUNS; do
  IFS=: read -r label binary family <<<"$run"
  start=$SECONDS
  timeout 20 "$D/gemm_harness_$binary" --only "$family" >"$OUT/$label.txt" 2>&1
  echo "rc $? after $((SECONDS - start)) s" >>"$OUT/$label.txt"
  log="$OUT/$label.txt"
  echo "$label: $(grep -c ' ok$' "$log") checks ok, $(grep -c 'FAIL$' "$log") failed; $(tail -1 "$log")"
done
timeout 60 python3 "$D/gemm_peer.py" >"$OUT/cublas.txt" 2>&1
echo "cublas: rc $?"

python3 - "$OUT" $RUNS <<'PY'
import os, re, sys
out, runs = sys.argv[1], [r.split(":")[0] for r in sys.argv[2:]]
def rows(path, pattern):
    got = {}
    try:
        for line in open(path):
            m = re.match(pattern, line)
            if m:
                got[m.group(1).strip()] = float(m.group(2))
    except FileNotFoundError:
        pass
    return got
# harness: 'fwd qkv T16K   nt  16384 x 2304 x 768 ws  splits 1  0.123 ms  456.7 TFLOP/s'
HARNESS_ROW = r"^(.+?)\s+[nt][nt]\s+\d+ x\s+\d+ x\s+\d+ \S+\s+splits \d+\s+[\d.]+ ms\s+([\d.]+) TFLOP/s"
ours = {r: rows(f"{out}/{r}.txt", HARNESS_ROW) for r in runs}
# gemm_peer.py: 'fwd qkv T16K   nt   16384   2304    768    0.123    456.7  method'
cublas = rows(f"{out}/cublas.txt", r"^(.+?)\s+[nt][nt]\s+\d+\s+\d+\s+\d+\s+[\d.]+\s+([\d.]+)\s")
checks = {}
for r in runs:
    text = open(f"{out}/{r}.txt").read() if os.path.exists(f"{out}/{r}.txt") else ""
    m = re.search(r"correctness: (\d+) failure", text)
    checks[r] = "-" if not m else ("ok" if m.group(1) == "0" else m.group(1) + " FAIL")
    rc = re.search(r"^rc (\d+) after", text, re.M)
    if rc and rc.group(1) != "0":
        checks[r] += f" (exit {rc.group(1)}{', timed out' if rc.group(1) == '124' else ''})"
names = list(cublas) or list(next(iter(ours.values()), {}))
print()
print("TFLOP/s (ratio to cuBLAS); checks: " + ", ".join(f"{r} {checks[r]}" for r in runs))
print(f"{'shape':22s} {'cuBLAS':>7s} " + " ".join(f"{r:>14s}" for r in runs))
worst = {r: 9.0 for r in runs}
for name in names:
    peer = cublas.get(name)
    cells = []
    for r in runs:
        v = ours[r].get(name)
        if v is None:
            cells.append(f"{'-':>14s}")
        elif peer:
            cells.append(f"{v:7.1f} ({v / peer:4.2f})")
            worst[r] = min(worst[r], v / peer)
        else:
            cells.append(f"{v:7.1f}       ")
    print(f"{name:22s} {peer if peer else 0:7.1f} " + " ".join(cells))
print(f"{'lowest ratio':22s} {'':7s} " + " ".join(f"{worst[r]:14.2f}" if worst[r] < 9 else f"{'-':>14s}" for r in runs))
PY
