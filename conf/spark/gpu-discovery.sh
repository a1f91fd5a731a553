#!/usr/bin/env bash
# Spark GPU discovery script: prints the GPUs of this host as Spark's resource JSON,
#   {"name": "gpu", "addresses": ["0", "1", ...]}
# from nvidia-smi's indices. Named by spark.{worker,executor,driver}.resource.gpu.discoveryScript.
# CUDA_VISIBLE_DEVICES, when set, limits the list, as on a shared host.
set -euo pipefail
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-discovery.sh: nvidia-smi not found on $(hostname); no GPUs to offer" >&2
  echo '{"name": "gpu", "addresses": []}'
  exit 0
fi
mapfile -t ids < <(nvidia-smi --query-gpu=index --format=csv,noheader | tr -d ' ')
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  IFS=',' read -r -a ids <<< "$CUDA_VISIBLE_DEVICES"
fi
printf '{"name": "gpu", "addresses": ['
sep=""
for id in "${ids[@]}"; do
  printf '%s"%s"' "$sep" "$id"
  sep=", "
done
printf ']}\n'
