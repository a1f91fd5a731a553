#!/usr/bin/env python3
"""cuBLAS (torch.matmul) at GemmLab's training shapes, timed the same way; the ceiling for issue 5.

Same shapes, layouts and dtypes as io.mobaspark.kernels.lab.GemmLab: bf16 operands, the transposed
operand as a transposed view (cuBLAS reads it in place, as our kernel does), bf16 outputs, and for
the weight gradients an fp32 output accumulated in place (addmm with out_dtype=float32 where this
torch has it, else a bf16 product added to fp32, which is reported). CUDA events, median of 20
samples after 3 warm-ups, a sample being as many back-to-back products as fill about 1 ms; inputs
rotated over sets larger than L2.

    python3 tools/gemm_peer.py                     # the cuBLAS table
    python3 tools/gemm_peer.py --ours gemm_lab.txt # plus the ratio table against GemmLab's output
"""
import argparse
import math
import re
import statistics

import torch

# name, M, N, K, transA, transB, fp32 accumulate (GemmLab.SHAPES: keep in step)
SHAPES = [
    ("fwd qkv T16K", 16384, 2304, 768, False, True, False),
    ("fwd up T8K", 8192, 3072, 768, False, True, False),
    ("fwd up T64K", 65536, 3072, 768, False, True, False),
    ("fwd down T64K", 65536, 768, 3072, False, True, False),
    ("dx up T64K", 65536, 768, 3072, False, False, False),
    ("dx down T64K", 65536, 3072, 768, False, False, False),
    ("dW attn 768x768 T64K", 768, 768, 65536, True, False, True),
    ("dW up T64K", 3072, 768, 65536, True, False, True),
    ("dW down T64K", 768, 3072, 65536, True, False, True),
    ("fwd lmhead T16K", 16384, 50304, 768, False, True, False),
    ("dx lmhead T16K", 16384, 768, 50304, False, False, False),
    ("dW lmhead T16K", 50304, 768, 16384, True, False, True),
    ("tt 4096", 4096, 4096, 4096, True, True, False),
]
WARMUP, REPS = 3, 20
# A sample is this many products back to back between two events, at most: as many as fill about
# 1 ms, so that host launch time stops counting for short products (GemmLab and the C++ harness: same).
MAX_LAUNCHES = 20
L2_ROTATION_BYTES = 200e6


def operands(m, n, k, trans_a, trans_b, sets):
    """Lists of op(a) [M, K] and op(b) [K, N] views over bf16 storage in the stored layout."""
    a_list, b_list = [], []
    for _ in range(sets):
        a = torch.randn((k, m) if trans_a else (m, k), device="cuda", dtype=torch.bfloat16)
        b = torch.randn((n, k) if trans_b else (k, n), device="cuda", dtype=torch.bfloat16)
        a_list.append(a.t() if trans_a else a)
        b_list.append(b.t() if trans_b else b)
    return a_list, b_list


def fp32_accumulate(out, a, b):
    """out += a @ b with an fp32 out; returns the method used."""
    try:
        torch.addmm(out, a, b, out_dtype=torch.float32, out=out)
        return "addmm fp32 out"
    except (TypeError, RuntimeError):
        out += torch.matmul(a, b)
        return "bf16 mm + fp32 add"


def time_shape(name, m, n, k, trans_a, trans_b, accumulate):
    set_bytes = 2 * (m * k + k * n)
    sets = max(1, min(8, int(L2_ROTATION_BYTES // set_bytes) + 1))
    a_list, b_list = operands(m, n, k, trans_a, trans_b, sets)
    out = torch.zeros((m, n), device="cuda", dtype=torch.float32 if accumulate else torch.bfloat16)
    method = "matmul bf16 out"
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    launches, next_set = 1, 0
    for rep in range(-WARMUP, REPS):
        start.record()
        for _ in range(launches):
            a, b = a_list[next_set], b_list[next_set]
            next_set = (next_set + 1) % sets
            if accumulate:
                method = fp32_accumulate(out, a, b)
            else:
                torch.matmul(a, b, out=out)
        stop.record()
        stop.synchronize()
        elapsed = start.elapsed_time(stop)
        if rep == -1:
            launches = min(MAX_LAUNCHES, max(1, math.ceil(1.0 / elapsed)))
        if rep >= 0:
            times.append(elapsed / launches)
    ms = statistics.median(times)
    return ms, 2.0 * m * n * k / (ms * 1e-3) / 1e12, method


def parse_ours(path):
    """GemmLab's table rows: 'name | layout | M N K | kernel | ms | TFLOP/s' -> {name: tflops}."""
    ours = {}
    with open(path) as f:
        for line in f:
            match = re.match(r"^(.+?)\s+\|.*\|\s*([\d.]+)\s*ms\s*\|\s*([\d.]+)\s*TFLOP/s", line)
            if match:
                ours[match.group(1).strip()] = float(match.group(3))
    return ours


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ours", help="GemmLab's output, for the ratio table")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print(f"{'shape':22s} layout {'M':>6s} {'N':>6s} {'K':>6s} {'ms':>8s} {'TFLOP/s':>8s}  method")
    peer = {}
    for name, m, n, k, ta, tb, acc in SHAPES:
        ms, tflops, method = time_shape(name, m, n, k, ta, tb, acc)
        peer[name] = tflops
        layout = ("t" if ta else "n") + ("t" if tb else "n")
        print(f"{name:22s} {layout:6s} {m:6d} {n:6d} {k:6d} {ms:8.3f} {tflops:8.1f}  {method}")
        torch.cuda.empty_cache()
    if args.ours:
        ours = parse_ours(args.ours)
        print()
        print(f"{'shape':22s} {'GemmLab':>8s} {'cuBLAS':>8s} {'ratio':>6s}   (TFLOP/s; goal ratio >= 0.70)")
        for name, *_ in SHAPES:
            if name in ours:
                print(f"{name:22s} {ours[name]:8.1f} {peer[name]:8.1f} {ours[name] / peer[name]:6.2f}")
            else:
                print(f"{name:22s} {'-':>8s} {peer[name]:8.1f}  (no GemmLab row)")


if __name__ == "__main__":
    main()
