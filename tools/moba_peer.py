"""Peer timings for docs/perf/moba.md, run on the GPU machine in the same command as the MoBA kernel
lab (kernels/src/lab/cuda/moba_harness.cu).

  - the card's two ceilings: a bf16 GEMM (8192^3, random data) through torch.matmul and a large
    device-to-device copy (bytes read plus bytes written);
  - FlashAttention-2 through PyTorch SDPA restricted to its flash backend, bf16, causal,
    [batch, heads, N, d] = [2, 16, N, d];
  - exact MoBA through FlexAttention (compiled): the same routing rules as the kernels (fp32
    centroids, unscaled gate, own block always, k - 1 best earlier blocks), turned into a per-query
    block selection `sel [batch, heads, N, N/B]` read by the mask_mod, and a BlockMask whose
    (128-query, 128-key) tile is present when any of its queries selected the key block.

Prints forward and forward+backward median milliseconds (CUDA events, after warm-up) and the peak
device memory of the fwd+bwd step.

    python3 tools/moba_peer.py ceilings
    python3 tools/moba_peer.py fa2 D N [N ...]
    python3 tools/moba_peer.py flex D N [N ...]
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

BATCH, HEADS, BLOCK, TOPK = 2, 16, 128, 8


def median_ms(fn, warmup, reps):
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


def repetitions(n):
    """(warm-up, timed) repetitions: FA2 takes seconds per step from 256K on."""
    if n <= 32768:
        return 2, 10
    if n <= 65536:
        return 2, 5
    if n <= 131072:
        return 1, 3
    if n <= 262144:
        return 0, 2
    return 0, 1


def ceilings():
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    ms = median_ms(lambda: torch.matmul(a, b), 3, 10)
    rate = 2 * 8192**3 / ms / 1e9
    src = torch.randn(2**30 // 2, device="cuda", dtype=torch.bfloat16)  # 1 GiB
    dst = torch.empty_like(src)
    ms_copy = median_ms(lambda: dst.copy_(src), 3, 10)
    bandwidth = 2 * 2**30 / ms_copy / 1e6
    print(f"CEILINGS gemm {rate:.0f} TFLOP/s (8192^3 bf16, median of 10) | copy {bandwidth:.0f} GB/s "
          f"(1 GiB read + 1 GiB written, median of 10)", flush=True)


def inputs(n, dim):
    shape = (BATCH, HEADS, n, dim)
    q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    return q, k, v, torch.randn(shape, device="cuda", dtype=torch.bfloat16)


def attention_ms(attend, q, k, v, dout, warmup, reps):
    """Median ms of attend's forward (no grad) and forward+backward, and the peak GiB of the latter."""
    def fwd():
        with torch.no_grad():
            attend(q, k, v)

    def fwd_bwd():
        out = attend(q, k, v)
        q.grad = k.grad = v.grad = None
        out.backward(dout)

    f = median_ms(fwd, warmup, reps)
    torch.cuda.reset_peak_memory_stats()
    fb = median_ms(fwd_bwd, warmup, reps)
    return f, fb, torch.cuda.max_memory_allocated() / 2**30


def timed(name, n, dim, attend, q, k, v, dout, causal_pairs):
    warmup, reps = repetitions(n)
    f, fb, peak = attention_ms(attend, q, k, v, dout, warmup, reps)
    flops_fwd = 4 * BATCH * HEADS * dim * causal_pairs
    print(f"{name} N={n} batch={BATCH} H={HEADS} D={dim} | fwd {f:.3f} ms "
          f"({flops_fwd / f / 1e9:.0f} TFLOP/s) | fwd+bwd {fb:.3f} ms "
          f"({3.5 * flops_fwd / fb / 1e9:.0f} TFLOP/s) | peak {peak:.2f} GiB | reps {reps}",
          flush=True)


def fa2(dim, sizes):
    def attend(q, k, v):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    for n in sizes:
        q, k, v, dout = inputs(n, dim)
        timed("FA2", n, dim, attend, q, k, v, dout, n * (n + 1) / 2)
        del q, k, v, dout
        torch.cuda.empty_cache()


def moba_selection(q, k):
    """sel [batch, heads, N, N/B] bool: the blocks each query attends to (MOBA.md semantics)."""
    b, h, n, d = q.shape
    nb = n // BLOCK
    cen = k.detach().float().view(b, h, nb, BLOCK, d).mean(3)  # [b, h, nb, d] fp32
    own = torch.arange(n, device=q.device) // BLOCK
    earlier = torch.arange(nb, device=q.device)[None, :] < own[:, None]  # [n, nb]
    sel = torch.zeros(b, h, n, nb, device=q.device, dtype=torch.bool)
    for hh in range(h):  # one head at a time: the fp32 scores of all heads would not fit at 512K
        scores = torch.matmul(q.detach()[:, hh].float(), cen[:, hh].transpose(1, 2))  # [b, n, nb]
        scores = scores.masked_fill(~earlier, float("-inf"))
        top = torch.topk(scores, min(TOPK - 1, nb), dim=-1)
        sel[:, hh].scatter_(-1, top.indices, top.values > float("-inf"))
    sel[:, :, torch.arange(n, device=q.device), own] = True
    return sel


def flex(dim, sizes):
    from torch.nn.attention.flex_attention import BlockMask, flex_attention

    compiled = torch.compile(flex_attention, dynamic=False)
    for n in sizes:
        q, k, v, dout = inputs(n, dim)
        sel = moba_selection(q, k)
        selected_pairs = sel.sum().item() * BLOCK / (BATCH * HEADS)  # upper bound (own block full)

        def mask_mod(b, h, q_idx, kv_idx):
            return sel[b, h, q_idx, kv_idx // BLOCK] & (kv_idx <= q_idx)

        tiles = sel.view(BATCH, HEADS, n // BLOCK, BLOCK, n // BLOCK).any(3)  # [b, h, qb, kb]
        counts = tiles.sum(-1, dtype=torch.int32)
        order = torch.argsort(tiles.to(torch.int8), dim=-1, descending=True, stable=True)
        block_mask = BlockMask.from_kv_blocks(counts, order.to(torch.int32), BLOCK_SIZE=BLOCK,
                                              mask_mod=mask_mod)
        density = tiles.float().mean().item()
        print(f"FLEX N={n}: tile density {density:.3f} of all (128 x 128) tiles", flush=True)

        def attend(q, k, v):
            return compiled(q, k, v, block_mask=block_mask)

        timed("FLEX", n, dim, attend, q, k, v, dout, selected_pairs)
        del q, k, v, dout, sel, tiles, order, block_mask
        torch.cuda.empty_cache()


def main():
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    what = sys.argv[1]
    if what == "ceilings":
        ceilings()
        return
    dim, sizes = int(sys.argv[2]), [int(a) for a in sys.argv[3:]]
    if what == "fa2":
        fa2(dim, sizes)
    elif what == "flex":
        flex(dim, sizes)
    else:
        raise SystemExit(f"unknown mode {what!r}: ceilings, fa2 or flex")


if __name__ == "__main__":
    main()
