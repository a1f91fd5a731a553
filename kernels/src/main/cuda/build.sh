#!/usr/bin/env bash
# Compiles every .cu in this folder into the jar's resources, called by kernels/pom.xml in
# generate-resources:  build.sh NVCC SOURCE_DIR OUTPUT_DIR
#
# Per kernel file NAME.cu it writes three images; CudaContext loads the best one for the device:
#   NAME.compute_80.ptx   PTX, JIT-compiled by the driver on any GPU of compute capability >= 8.0
#   NAME.sm_80.cubin      SASS for Ampere (8.x)
#   NAME.sm_90a.cubin     SASS for Hopper 9.0, with its arch-specific instructions (wgmma, setmaxnreg)
# No --use_fast_math: the kernels must match the CPU reference within the bf16 tolerance policy, and
# fast exp/division would add error of their own.
set -euo pipefail
nvcc=$1
src=$2
out=$3

if ! resolved=$(command -v "$nvcc" 2>/dev/null) && [ -x /usr/local/cuda/bin/nvcc ] && [ "$nvcc" = nvcc ]; then
  resolved=/usr/local/cuda/bin/nvcc
fi
if [ -z "${resolved:-}" ] || [ ! -x "$resolved" ]; then
  cat >&2 <<MSG
ERROR: nvcc not found (looked for '$nvcc' on PATH and in /usr/local/cuda/bin).
The kernels module compiles its CUDA sources (kernels/src/main/cuda/*.cu) during the build.
Install the CUDA Toolkit 12 or newer (the project is built with 13.0): the NVIDIA installer from
https://developer.nvidia.com/cuda-downloads or your distribution's cuda-nvcc package; or point the
build at an existing nvcc:
    mvn -Dnvcc=/path/to/cuda/bin/nvcc ...
MSG
  exit 1
fi

mkdir -p "$out"
flags=(-O3 -lineinfo -std=c++17 -Xptxas=-warn-spills -I"$src")
# Headers shared by several kernels: a newer header rebuilds every kernel.
newest_header=$(ls -t "$src"/*.cuh 2>/dev/null | head -1 || true)

stale() { # stale IMAGE SOURCE: true when IMAGE is missing or older than SOURCE, a header or this script
  [ ! -f "$1" ] || [ "$2" -nt "$1" ] || [ "$0" -nt "$1" ] || { [ -n "$newest_header" ] && [ "$newest_header" -nt "$1" ]; }
}

shopt -s nullglob
built=0
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  ptx="$out/$name.compute_80.ptx"
  sm80="$out/$name.sm_80.cubin"
  sm90a="$out/$name.sm_90a.cubin"
  if stale "$ptx" "$cu" || stale "$sm80" "$cu" || stale "$sm90a" "$cu"; then
    echo "nvcc: $name.cu -> compute_80 PTX, sm_80 and sm_90a cubins"
    # The three targets are independent: compile them side by side (CI has two cores).
    "$resolved" "${flags[@]}" -gencode=arch=compute_80,code=compute_80 -ptx -o "$ptx" "$cu" &
    p1=$!
    "$resolved" "${flags[@]}" -gencode=arch=compute_80,code=sm_80 -cubin -o "$sm80" "$cu" &
    p2=$!
    "$resolved" "${flags[@]}" -gencode=arch=compute_90a,code=sm_90a -cubin -o "$sm90a" "$cu" &
    p3=$!
    status=0
    wait $p1 || status=1
    wait $p2 || status=1
    wait $p3 || status=1
    if [ $status -ne 0 ]; then
      rm -f "$ptx" "$sm80" "$sm90a"
      echo "ERROR: nvcc failed on $cu" >&2
      exit 1
    fi
    built=$((built + 1))
  fi
done
echo "nvcc: $built kernel file(s) rebuilt, the rest up to date in $out"
