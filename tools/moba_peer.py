"""FlashAttention-2 peer timings for docs/perf/moba.md, run on the GPU machine in the same command as
the MoBA kernel lab (kernels/src/lab/cuda/moba_harness.cu).

PyTorch SDPA restricted to its flash backend (FA2), bf16, causal, the paper's shape
[batch, heads, N, d] = [2, 16, N, 128]. Prints forward and forward+backward median milliseconds
(CUDA events, after warm-up) and the peak device memory of the fwd+bwd step.

    python3 tools/moba_peer.py [N ...]      (default 8192 32768 65536)
"""
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
import torch.nn.functional as F

BATCH, HEADS, DIM = 2, 16, 128


def median_ms(fn, warmup=2, reps=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [8192, 32768, 65536]
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for n in sizes:
        shape = (BATCH, HEADS, n, DIM)
        q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
                   for _ in range(3))
        dout = torch.randn(shape, device="cuda", dtype=torch.bfloat16)

        def fwd():
            with torch.no_grad(), sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                F.scaled_dot_product_attention(q, k, v, is_causal=True)

        def fwd_bwd():
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            q.grad = k.grad = v.grad = None
            out.backward(dout)

        reps = 10 if n <= 32768 else 5
        f = median_ms(fwd, reps=reps)
        torch.cuda.reset_peak_memory_stats()
        fb = median_ms(fwd_bwd, reps=reps)
        peak = torch.cuda.max_memory_allocated() / 2**30
        flops_fwd = 4 * BATCH * HEADS * DIM * n * (n + 1) / 2
        print(f"FA2 N={n} batch={BATCH} H={HEADS} D={DIM} | fwd {f:.3f} ms "
              f"({flops_fwd / f / 1e9:.0f} TFLOP/s) | fwd+bwd {fb:.3f} ms "
              f"({3.5 * flops_fwd / fb / 1e9:.0f} TFLOP/s) | peak {peak:.2f} GiB", flush=True)
        del q, k, v, dout
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
