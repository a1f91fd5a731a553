"""Sliding-window peers for docs/perf/moba.md ("Sliding window"), run on the GPU machine in the same
command as MobaParity --time-swa: one sequence of N tokens, 12 heads, D = 64, bf16, causal with
keys pos - W < key <= pos.

  - FA2 through flash_attn's window_size = (W - 1, 0) where flash_attn is installed; else
  - FlexAttention (compiled) with a sliding mask_mod and its BlockMask, which skips the (128 x 128)
    tiles outside every window. W lives in a tensor so that both windows share one compilation.
  - FA2 dense causal through PyTorch SDPA's flash backend, for scale.

Prints forward and forward+backward median milliseconds (CUDA events, 3 warm-ups, median of 10).

    python3 tools/swa_peer.py N W [W ...]
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from moba_peer import attention_ms  # CUDA-event medians after warm-up, as the MoBA peer times

HEADS, DIM = 12, 64


def timed(name, n, w, attend, layout):
    """layout: 'bhnd' (SDPA, Flex) or 'bnhd' (flash_attn)."""
    shape = (1, HEADS, n, DIM) if layout == "bhnd" else (1, n, HEADS, DIM)
    q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    dout = torch.randn(shape, device="cuda", dtype=torch.bfloat16)

    f, fb, _ = attention_ms(attend, q, k, v, dout, 3, 10)
    pairs = w * n - w * (w - 1) / 2  # rows' min(pos + 1, W), summed
    flop = HEADS * DIM * pairs
    print(f"{name} N={n} W={w} H={HEADS} D={DIM} | fwd {f:.3f} ms ({4 * flop / f / 1e9:.0f} TFLOP/s)"
          f" | fwd+bwd {fb:.3f} ms ({14 * flop / fb / 1e9:.0f} TFLOP/s)", flush=True)


def main():
    n, windows = int(sys.argv[1]), [int(a) for a in sys.argv[2:]]
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)

    def dense(q, k, v):
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    timed("FA2-dense(SDPA)", n, n, dense, "bhnd")
    try:
        from flash_attn import flash_attn_func
    except ImportError:
        flash_attn_func = None
        print("flash_attn is not installed: FlexAttention with a sliding mask instead", flush=True)
    if flash_attn_func is not None:
        for w in windows:
            timed("FA2(flash_attn)", n, w, lambda q, k, v, w=w: flash_attn_func(
                q, k, v, causal=True, window_size=(w - 1, 0)), "bnhd")
        return

    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    compiled = torch.compile(flex_attention, dynamic=False)
    window = torch.zeros((), dtype=torch.int64, device="cuda")

    def sliding(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx < window)

    for w in windows:
        window.fill_(w)
        mask = create_block_mask(sliding, None, None, n, n, device="cuda")
        timed("FLEX(sliding)", n, w, lambda q, k, v: compiled(q, k, v, block_mask=mask), "bhnd")


if __name__ == "__main__":
    main()
