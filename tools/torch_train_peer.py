#!/usr/bin/env python3
"""PyTorch twin of the MoBA-Spark model: training tokens/s on one GPU, for issue 5's comparison with
the project's CUDA trainer in the same device command.

The model is the one of docs/model.md (and the Java io.mobaspark.trainer.model.Model): embedding,
pre-RMSNorm blocks, q/k/v projections with GQA, RoPE (rotate-half) on the kinds listed in `rope`,
kconv on the keys of MoBA layers, per-layer attention kind from the `attention` pattern, SwiGLU MLP,
final RMSNorm, tied or untied head, mean cross-entropy; AdamW with the Java defaults (betas 0.9/0.95,
eps 1e-8, weight decay 0.1 on matrices and embeddings only), global-norm clipping at 1.0, linear
warm-up then cosine (LrSchedule). Fast paths:
  - dense layers: SDPA, causal;
  - sliding-window layers: SDPA over window-sized query chunks, each seeing its own and the previous
    key chunk through a boolean mask (--swa flex: FlexAttention with a sliding-window BlockMask);
  - MoBA layers: the routing of docs/moba.md in PyTorch (fp32 mean-pooled key-block centroids,
    unscaled gate q.c, own block forced, only blocks ending strictly before the query compete, ties
    to the higher block index, top-k), then FlexAttention with a mask_mod reading the per-query
    block selection and a BlockMask of the (128 query x 128 key) tiles any query of the tile needs;
norms, projections, kconv, RoPE, MLP and the loss through torch.compile (the routing and causal SDPA
run uncompiled); bf16 autocast over fp32 master weights, fp32 AdamW state.

Each micro-batch is `--batch` independent sequences of `--seq` random tokens (one document each:
attention, blocks, kconv and RoPE positions start at every sequence, as in docs/model.md's varlen
layout with equal lengths).

Prints the median tokens/s over the timed steps (CUDA events around whole optimizer steps, after
--warmup untimed ones), the peak device memory and the MFU of `training_flops`.

    python3 tools/torch_train_peer.py --config conf/models/paper-340m.conf \\
        --set d_model=768 layers=12 heads=12 kv_heads=12 ffn=2112 kconv=3 \\
        --seq 8192 --batch 8 --warmup 2 --steps 6     # the ~125M run of docs/perf/training.md
    python3 tools/torch_train_peer.py --check      # CPU, tiny dims: routing and masks vs brute force,
                                                   # the whole model's loss vs torch_reference.py
"""

import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as ref  # noqa: E402  (the project's float64 re-implementation of the model)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DEFAULTS = os.path.join(REPO, "trainer", "src", "main", "resources", "model-defaults.conf")
TILE = 128  # FlexAttention's query and key tile; sequence length and block size must fit it
H200_BF16_PEAK = 989.4e12  # dense bf16 tensor-core FLOP/s of an H100/H200 SXM (datasheet)
# AdamW, clipping and schedule defaults of trainer/src/main/resources/mobaspark-defaults.conf.
TRAIN_DEFAULTS = dict(lr=6e-4, min_lr=6e-5, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1,
                      grad_clip=1.0)


# ---- configuration ----------------------------------------------------------------------------


def read_model_section(path):
    """The `model { key = value }` entries of a HOCON file, as strings (quotes and comments off).

    Only the flat form the project's conf files use; other sections are skipped.
    """
    entries, section = {}, []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("include"):
                continue
            if line.endswith("{"):
                section.append(line[:-1].strip())
            elif line == "}":
                section.pop()
            elif section == ["model"]:
                if "=" not in line:
                    raise ref.BadInput(f"{path}:{number}: expected key = value, got '{line}'")
                key, value = (part.strip() for part in line.split("=", 1))
                entries[key] = value.strip('"')
    return entries


def model_config(config_path, overrides):
    """ref.ModelConfig from the defaults, a conf file and key=value overrides, plus init_std."""
    entries = read_model_section(MODEL_DEFAULTS)
    known = set(entries)
    if config_path:
        entries.update(read_model_section(config_path))
    for item in overrides:
        if "=" not in item:
            raise ref.BadInput(f"--set expects key=value, got '{item}'")
        key, value = item.split("=", 1)
        entries[key.strip()] = value.strip()
    unknown = sorted(set(entries) - known)
    if unknown:
        raise ref.BadInput(f"unknown model key(s): {', '.join('model.' + k for k in unknown)}")
    cfg = ref.ModelConfig.from_metadata({"model." + k: v for k, v in entries.items()})
    return cfg, float(entries["init_std"])


def init_parameters(cfg, init_std, device, generator):
    """fp32 parameters in docs/model.md's order and init: N(0, sigma) matrices, wo and w_down scaled
    by 1/sqrt(2L), norms 1, kconv 0 (the identity)."""
    params = {}
    residual_std = init_std / math.sqrt(2 * cfg.layers)
    for name, shape in cfg.parameter_shapes().items():
        if name.endswith("norm.weight"):
            value = torch.ones(shape)
        elif name.endswith("kconv.weight"):
            value = torch.zeros(shape)
        else:
            std = residual_std if name.endswith(("attn.wo.weight", "w_down.weight")) else init_std
            value = torch.randn(shape, generator=generator) * std
        params[name] = torch.nn.Parameter(value.to(device))
    return params


def decays(name):
    """AdamW decays matrices and embeddings, not norm gains nor kconv (docs/model.md)."""
    return not name.endswith(("norm.weight", "kconv.weight"))


# ---- the model's pieces -----------------------------------------------------------------------


def wide(x):
    """x in fp32, or float64 where it already is (the --check runs)."""
    return x if x.dtype == torch.float64 else x.float()


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis, computed in fp32."""
    x32 = wide(x)
    return x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope_tables(seq, dim, theta, device, dtype):
    """cos, sin [seq, D/2] for rotate-half RoPE: angle pos * theta^(-2i/D), from float64."""
    inv_freq = theta ** (-2.0 * torch.arange(dim // 2, dtype=torch.float64) / dim)
    angle = torch.arange(seq, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return angle.cos().to(device, dtype), angle.sin().to(device, dtype)


def rope(x, cos, sin):
    """x [b, N, heads, D]: channel i pairs with i + D/2; positions restart with every sequence."""
    half = x.shape[-1] // 2
    x1, x2 = wide(x[..., :half]), wide(x[..., half:])
    c, s = cos[:, None, :], sin[:, None, :]  # [N, 1, D/2]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1).to(x.dtype)


def key_conv(k, weight):
    """k'_t = k_t + silu(sum_l w[:, l, :] * k_{t-l}), zero before the sequence start (App. C).

    k [b, N, Hkv, D]; weight [Hkv, W, D], tap l multiplies the key l tokens back.
    """
    width, n = weight.shape[1], k.shape[1]
    padded = F.pad(wide(k), (0, 0, 0, 0, width - 1, 0))  # [b, W-1+N, Hkv, D]
    z = sum(weight[:, lag, :] * padded[:, width - 1 - lag : width - 1 - lag + n]
            for lag in range(width))
    return (wide(k) + F.silu(z)).to(k.dtype)


def qkv(x, norm_w, wq, wk, wv, kconv_w, cos, sin, cfg):
    """Pre-norm and projections: q [b, H, N, D], k, v [b, Hkv, N, D] (kconv, then RoPE if on)."""
    b, n, _ = x.shape
    h = rms_norm(x, norm_w, cfg.norm_eps)
    q = (h @ wq.T).view(b, n, cfg.heads, cfg.head_dim)
    k = (h @ wk.T).view(b, n, cfg.kv_heads, cfg.head_dim)
    v = (h @ wv.T).view(b, n, cfg.kv_heads, cfg.head_dim)
    if kconv_w is not None:
        k = key_conv(k, kconv_w)
    if cos is not None:
        q, k = rope(q, cos, sin), rope(k, cos, sin)
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


def block_tail(x, o, wo, norm_w, w_gate, w_up, w_down, eps):
    """x + o @ wo.T, then the SwiGLU MLP's residual branch. o [b, H, N, D] -> x [b, N, C]."""
    b, _, n, _ = o.shape
    x = x + o.transpose(1, 2).reshape(b, n, -1) @ wo.T
    h = rms_norm(x, norm_w, eps)
    return x + (F.silu(h @ w_gate.T) * (h @ w_up.T)) @ w_down.T


def head_loss(x, norm_w, head_w, targets, eps):
    """Mean cross-entropy (nats) of the final norm and the LM head; x [b, N, C], targets [b, N]."""
    logits = rms_norm(x, norm_w, eps) @ head_w.T  # [b, N, V]
    return F.cross_entropy(wide(logits).flatten(0, 1), targets.flatten(), ignore_index=-1)


# ---- attention by kind ------------------------------------------------------------------------


def dense_attention(q, k, v):
    """Causal softmax attention through SDPA: q [b, H, N, D], k, v [b, Hkv, N, D]."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                          enable_gqa=q.shape[1] != k.shape[1])


def sliding_window_mask(window, chunks, device):
    """[chunks, 1, W, 2W] bool: query i of chunk c (position cW + i) sees key jj of the chunk pair
    (c-1, c) (position (c-1)W + jj) when p - W < j <= p, i.e. i < jj <= W + i; chunk 0 has no
    previous chunk."""
    i = torch.arange(window, device=device)[:, None]
    jj = torch.arange(2 * window, device=device)[None, :]
    inside = (jj > i) & (jj <= window + i)  # [W, 2W]
    mask = inside.expand(chunks, window, 2 * window).clone()
    mask[0, :, :window] = False
    return mask[:, None]


def sliding_attention_sdpa(q, k, v, window, mask):
    """SWA through SDPA: each W-query chunk attends to its own and the previous W-key chunk under
    `mask` (sliding_window_mask). q [b, H, N, D], k, v [b, Hkv, N, D], N % W == 0."""
    b, heads, n, d = q.shape
    chunks = n // window

    def pairs(t):  # [b, h, N, D] -> [b*chunks, h, 2W, D]: the previous chunk, then the own one
        c = t.view(b, t.shape[1], chunks, window, d)
        prev = F.pad(c, (0, 0, 0, 0, 1, 0))[:, :, :chunks]  # chunk 0's previous chunk is zeros
        pair = torch.cat([prev, c], dim=3)  # [b, h, chunks, 2W, D]
        return pair.transpose(1, 2).reshape(b * chunks, t.shape[1], 2 * window, d)

    qc = q.view(b, heads, chunks, window, d).transpose(1, 2).reshape(b * chunks, heads, window, d)
    o = F.scaled_dot_product_attention(qc, pairs(k), pairs(v), attn_mask=mask.repeat(b, 1, 1, 1),
                                       enable_gqa=heads != k.shape[1])
    return o.view(b, chunks, heads, window, d).transpose(1, 2).reshape(b, heads, n, d)


def sliding_block_mask(window, seq, device):
    """FlexAttention BlockMask for p - W < j <= p, the same for every sequence and head."""

    def mask_mod(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx < window)

    return create_block_mask(mask_mod, None, None, seq, seq, device=device)


@torch.no_grad()
def moba_route(q, k, block_size, topk):
    """MoBA routing (docs/moba.md): sel [b, H, N, N/B] bool, the key blocks each query attends to.

    q [b, H, N, D], k [b, Hkv, N, D] (the keys attention uses: after kconv). Centroids are fp32 means
    of each block's keys, the gate q.c is unscaled fp32, the own block is always selected, the
    other topk-1 slots go to the best blocks that end before the query, ties to the higher index.
    """
    b, heads, n, d = q.shape
    nb = n // block_size
    centroids = wide(k).view(b, k.shape[1], nb, block_size, d).mean(3)  # [b, Hkv, nb, D]
    centroids = centroids.repeat_interleave(heads // k.shape[1], dim=1)  # head h reads KV h/group
    scores = wide(q) @ centroids.transpose(-1, -2)  # [b, H, N, nb]
    own = torch.arange(n, device=q.device) // block_size  # [N]
    eligible = torch.arange(nb, device=q.device)[None, :] < own[:, None]  # [N, nb]
    sel = torch.zeros(b, heads, n, nb + 1, dtype=torch.bool, device=q.device)
    others = min(topk - 1, nb)
    if others > 0:
        flipped = scores.masked_fill(~eligible, float("-inf")).flip(-1)
        # A stable descending sort of the reversed blocks: among equal scores the higher block wins.
        top = torch.sort(flipped, dim=-1, descending=True, stable=True)
        picked = (nb - 1 - top.indices[..., :others]).masked_fill(
            top.values[..., :others] == float("-inf"), nb)  # slot nb collects the empty ones
        sel.scatter_(-1, picked, True)
    sel = sel[..., :nb]
    sel[:, :, torch.arange(n, device=q.device), own] = True
    return sel


def moba_block_mask(sel, block_size):
    """BlockMask over (TILE x TILE) tiles: a tile is visited when any of its queries selected a key
    block inside it; the mask_mod then applies each query's own selection, token-causal."""
    b, heads, n, nb = sel.shape
    if block_size >= TILE:
        keys = sel.repeat_interleave(block_size // TILE, dim=-1)  # [b, H, N, N/TILE]
    else:
        keys = sel.view(b, heads, n, nb * block_size // TILE, TILE // block_size).any(-1)
    tiles = keys.view(b, heads, n // TILE, TILE, n // TILE).any(3)  # [b, H, qtiles, ktiles]
    counts = tiles.sum(-1, dtype=torch.int32)
    order = torch.argsort(tiles.to(torch.int8), dim=-1, descending=True, stable=True)

    def mask_mod(b_, h_, q_idx, kv_idx):
        return sel[b_, h_, q_idx, kv_idx // block_size] & (kv_idx <= q_idx)

    return BlockMask.from_kv_blocks(counts, order.to(torch.int32), BLOCK_SIZE=TILE,
                                    mask_mod=mask_mod), tiles


# ---- FLOPs ------------------------------------------------------------------------------------


def attended_keys(kind, seq, cfg):
    """Keys one query attends to, summed over the positions 0..seq-1 of one sequence and one head."""
    p = torch.arange(seq, dtype=torch.float64)
    if kind == "dense":
        keys = p + 1
    elif kind == "swa":
        keys = torch.clamp(p + 1, max=cfg.window)
    else:  # moba: the own block up to the query, plus every selected earlier block whole
        past = torch.clamp(torch.div(p, cfg.block_size, rounding_mode="floor"), max=cfg.topk - 1)
        keys = torch.remainder(p, cfg.block_size) + 1 + past * cfg.block_size
    return float(keys.sum())


def training_flops(cfg, batch, seq):
    """Model FLOPs of one optimizer step (forward + backward) on batch x seq tokens.

    Issue 5's counting: the dense-equivalent matmul FLOPs, 6 per weight per token (2 forward,
    4 backward) for every projection, MLP and the LM head (a tied head counts: it is a matmul; the
    embedding lookup does not); plus the attention FLOPs actually done, 12 * D per (query, attended
    key, query head) (forward QK^T and PV, 2D each; backward dV, dP, dQ, dK, 2D each), where a
    query attends to p + 1 keys (dense), min(p + 1, window) (swa) or, on MoBA layers, its own block
    up to itself plus min(topk - 1, own block index) earlier blocks of B keys (the attended key
    blocks; the routing always fills every eligible slot, so the count needs no routing). Not
    counted: the routing's gate scores and sort, norms, RoPE, kconv, softmax, the optimizer, and the
    QK^T a FlashAttention backward recomputes.
    """
    c, hd, kd = cfg.d_model, cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim
    per_layer = c * hd + 2 * c * kd + hd * c + 3 * c * cfg.ffn
    matmul_weights = cfg.layers * per_layer + cfg.vocab_size * c
    attention = sum(attended_keys(cfg.kind(i), seq, cfg) for i in range(cfg.layers))
    return 6.0 * matmul_weights * batch * seq + 12.0 * cfg.heads * cfg.head_dim * attention * batch


# ---- the training step ------------------------------------------------------------------------


class Twin:
    """The model's forward as compiled pieces over a parameter dict (names of docs/model.md)."""

    def __init__(self, cfg, params, seq, swa, compile_fns, device, dtype=torch.float32):
        self.cfg, self.params, self.seq, self.swa = cfg, params, seq, swa
        wrap = torch.compile if compile_fns else (lambda fn, **_: fn)
        self.qkv = wrap(qkv)
        self.tail = wrap(block_tail)
        self.head = wrap(head_loss)
        # Routing (a matmul, a sort, a scatter) and causal SDPA run as they are: compiling them
        # would add compile time for no fusion worth having.
        self.flex = wrap(flex_attention)
        self.swa_sdpa = wrap(sliding_attention_sdpa)
        self.cos, self.sin = rope_tables(seq, cfg.head_dim, cfg.rope_theta, device, dtype)
        if "swa" in cfg.attention:
            if swa == "flex":
                self.swa_mask = sliding_block_mask(cfg.window, seq, device)
            else:
                self.swa_mask = sliding_window_mask(cfg.window, seq // cfg.window, device)
        self.tile_density = []  # per MoBA layer of the last forward: visited tiles / all tiles

    def attention(self, kind, q, k, v):
        cfg = self.cfg
        gqa = q.shape[1] != k.shape[1]
        if kind == "dense":
            return dense_attention(q, k, v)
        if kind == "swa" and self.swa == "sdpa":
            return self.swa_sdpa(q, k, v, cfg.window, self.swa_mask)
        if kind == "swa":
            block_mask = self.swa_mask
        else:
            sel = moba_route(q, k, cfg.block_size, cfg.topk)
            block_mask, tiles = moba_block_mask(sel, cfg.block_size)
            self.tile_density.append(tiles)
        # q, k, v are bf16 already; FlexAttention's compiled kernels run outside autocast.
        with torch.autocast(q.device.type, enabled=False):
            return self.flex(q, k, v, block_mask=block_mask, enable_gqa=gqa)

    def loss(self, inputs, targets):
        """inputs, targets [b, N] int64 -> mean cross-entropy."""
        cfg, p = self.cfg, self.params
        self.tile_density = []
        x = p["tok_embeddings.weight"][inputs]  # [b, N, C] fp32
        for i in range(cfg.layers):
            w, kind = f"layers.{i}.", cfg.kind(i)
            roped = kind in cfg.rope
            q, k, v = self.qkv(x, p[w + "attn_norm.weight"], p[w + "attn.wq.weight"],
                               p[w + "attn.wk.weight"], p[w + "attn.wv.weight"],
                               p.get(w + "attn.kconv.weight"), self.cos if roped else None,
                               self.sin if roped else None, cfg)
            o = self.attention(kind, q, k, v)
            x = self.tail(x, o, p[w + "attn.wo.weight"], p[w + "mlp_norm.weight"],
                          p[w + "mlp.w_gate.weight"], p[w + "mlp.w_up.weight"],
                          p[w + "mlp.w_down.weight"], cfg.norm_eps)
        head = p["tok_embeddings.weight" if cfg.tie_embeddings else "lm_head.weight"]
        return self.head(x, p["norm.weight"], head, targets, cfg.norm_eps)


def lr_at(step, warmup_steps, max_steps):
    """LrSchedule: linear warm-up to lr, then a half cosine to min_lr at max_steps (1-based)."""
    lr, min_lr = TRAIN_DEFAULTS["lr"], TRAIN_DEFAULTS["min_lr"]
    if step <= warmup_steps:
        return lr * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


def train(args):
    if not torch.cuda.is_available():
        raise ref.BadInput("no CUDA device: the timing run needs a GPU (--check runs on the CPU)")
    cfg, init_std = model_config(args.config, args.set)
    if args.seq % TILE or args.seq % cfg.block_size or (cfg.block_size % TILE and TILE % cfg.block_size):
        raise ref.BadInput(f"--seq {args.seq} and block_size {cfg.block_size} must be multiples of "
                           f"{TILE}, or the block size a divisor of it")
    if "swa" in cfg.attention and args.swa == "sdpa" and args.seq % cfg.window:
        raise ref.BadInput(f"--seq {args.seq} must be a multiple of window {cfg.window} (--swa sdpa)")
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers (none in the hot path)
    generator = torch.Generator().manual_seed(args.seed)
    params = init_parameters(cfg, init_std, device, generator)
    count = sum(p.numel() for p in params.values())
    groups = [
        {"params": [p for n, p in params.items() if decays(n)],
         "weight_decay": TRAIN_DEFAULTS["weight_decay"]},
        {"params": [p for n, p in params.items() if not decays(n)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=TRAIN_DEFAULTS["lr"],
                                  betas=(TRAIN_DEFAULTS["beta1"], TRAIN_DEFAULTS["beta2"]),
                                  eps=TRAIN_DEFAULTS["eps"], fused=True)
    twin = Twin(cfg, params, args.seq, args.swa, True, device)
    flops = training_flops(cfg, args.batch, args.seq)
    tokens = args.batch * args.seq
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(f"model:  {cfg.describe()}; {count:,} parameters; swa via {args.swa}")
    print(f"step:   {args.batch} x {args.seq} = {tokens:,} tokens; {flops / 1e12:.2f} TFLOP "
          f"(training_flops)", flush=True)

    data = torch.Generator(device=device).manual_seed(args.seed)
    times, started = [], time.time()
    total = args.warmup + args.steps
    for step in range(1, total + 1):
        ids = torch.randint(0, cfg.vocab_size, (args.batch, args.seq + 1), device=device,
                            generator=data)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = twin.loss(ids[:, :-1], ids[:, 1:])
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), TRAIN_DEFAULTS["grad_clip"],
                                              foreach=True)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.warmup, total)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end)
        if step > args.warmup:
            times.append(ms)
        if step == args.warmup:
            torch.cuda.reset_peak_memory_stats()
        print(f"step {step:3d} {'timed ' if step > args.warmup else 'warmup'} {ms:9.1f} ms  "
              f"loss {loss.item():.4f}  grad norm {norm.item():.3f}  "
              f"[{time.time() - started:.0f} s]", flush=True)

    median_s = statistics.median(times) / 1e3
    peak = torch.cuda.max_memory_allocated() / 2**30
    rate = flops / median_s
    density = ", ".join(f"{float(t.float().mean()):.3f}" for t in twin.tile_density)
    print(f"MoBA tiles visited (last step, per MoBA layer, of all {TILE}x{TILE} tiles): {density}")
    print(f"RESULT torch twin: {tokens / median_s:,.0f} tokens/s (median of {len(times)} steps, "
          f"{median_s * 1e3:.1f} ms/step) | {rate / 1e12:.1f} TFLOP/s | MFU "
          f"{100 * rate / args.peak_flops:.1f}% of {args.peak_flops / 1e12:.0f} TFLOP/s | "
          f"peak memory {peak:.1f} GiB", flush=True)
    return 0


# ---- --check: CPU, tiny dims, against brute force and torch_reference.py ----------------------


def brute_route(q, k, block_size, topk):
    """Per-query loops: q [H, n, D], k [Hkv, n, D] -> list over (h, p) of the selected block set."""
    heads, n, _ = q.shape
    group = heads // k.shape[0]
    rows = {}
    for h in range(heads):
        kv = k[h // group]
        centroids = [kv[j * block_size : (j + 1) * block_size].mean(0) for j in range(n // block_size)]
        for p in range(n):
            own = p // block_size
            ranked = sorted(range(own), key=lambda j: (float(q[h, p] @ centroids[j]), j), reverse=True)
            rows[h, p] = set(ranked[: topk - 1]) | {own}
    return rows


def brute_moba(q, k, v, rows, block_size):
    """Per-query softmax over the keys of the selected blocks up to the query: [H, n, D]."""
    heads, n, d = q.shape
    group = heads // k.shape[0]
    out = torch.empty_like(q)
    for (h, p), blocks in rows.items():
        keys = [j for j in range(p + 1) if j // block_size in blocks]
        s = torch.stack([q[h, p] @ k[h // group, j] for j in keys]) / math.sqrt(d)
        out[h, p] = torch.softmax(s, 0) @ v[h // group, keys]
    return out


def check_routing(failures):
    """moba_route and moba_block_mask + FlexAttention vs the per-query loops, ties and GQA included."""
    cases = [  # (seq, block_size, topk, heads, kv_heads, tied keys)
        (256, 32, 4, 4, 2, False), (256, 32, 4, 2, 1, True), (256, 128, 3, 2, 2, False),
        (512, 256, 2, 2, 1, False), (128, 16, 20, 2, 2, False), (256, 64, 1, 2, 2, False),
    ]
    gen = torch.Generator().manual_seed(7)
    for n, bsz, topk, heads, kv_heads, tied in cases:
        d, batch = 8, 2
        q = torch.randn(batch, heads, n, d, generator=gen, dtype=torch.float64)
        k = torch.randn(batch, kv_heads, n, d, generator=gen, dtype=torch.float64)
        v = torch.randn(batch, kv_heads, n, d, generator=gen, dtype=torch.float64)
        if tied:  # every block has the same keys: all gate scores tie, the latest blocks must win
            k = k[:, :, :bsz].repeat(1, 1, n // bsz, 1)
        sel = moba_route(q, k, bsz, topk)
        block_mask, _ = moba_block_mask(sel, bsz)
        out = flex_attention(q, k, v, block_mask=block_mask, enable_gqa=heads != kv_heads)
        wrong_rows = worst = 0
        for s in range(batch):
            rows = brute_route(q[s], k[s], bsz, topk)
            for (h, p), blocks in rows.items():
                wrong_rows += set(sel[s, h, p].nonzero().flatten().tolist()) != blocks
            worst = max(worst, float((out[s] - brute_moba(q[s], k[s], v[s], rows, bsz)).abs().max()))
        ok = wrong_rows == 0 and worst < 1e-10
        failures += not ok
        print(f"moba N={n} B={bsz} k={topk} H={heads} Hkv={kv_heads}{' tied keys' if tied else ''}: "
              f"{wrong_rows} routing rows differ from brute force, attention max|diff| {worst:.1e}  "
              f"{'OK' if ok else 'FAIL'}")
    return failures


def check_model(failures):
    """The twin's loss (float64, eager) equals torch_reference.forward's on the same weights."""
    cases = [  # (overrides, swa implementation)
        (["attention=swa,moba", "kconv=3", "seq=256"], "sdpa"),
        (["attention=swa,moba", "kconv=3", "seq=256"], "flex"),
        (["attention=dense,swa,moba", "layers=3", "kconv=5", "rope=dense,swa,moba",
          "tie_embeddings=false", "heads=4", "kv_heads=1", "seq=256"], "sdpa"),
    ]
    for overrides, swa in cases:
        seq = int(next(o for o in overrides if o.startswith("seq=")).split("=")[1])
        cfg, _ = model_config(None, [o for o in overrides if not o.startswith("seq=")])
        gen = torch.Generator().manual_seed(11)
        params = init_parameters(cfg, 0.2, "cpu", gen)  # a large init: attention far from uniform
        with torch.no_grad():
            for name, p in params.items():
                if name.endswith(("norm.weight", "kconv.weight")):  # off 1 and 0 (identity)
                    p.add_(0.3 * torch.randn(p.shape, generator=gen))
        params = {n: p.detach().double() for n, p in params.items()}
        batch = 2
        ids = torch.randint(0, cfg.vocab_size, (batch, seq + 1), generator=gen)
        inputs, targets = ids[:, :-1], ids[:, 1:].clone()
        targets[0, :5] = -1  # not counted, as the trainer's padding
        twin = Twin(cfg, params, seq, swa, False, "cpu", torch.float64)
        with torch.no_grad():
            mine = float(twin.loss(inputs, targets))
            cu = torch.arange(batch + 1) * seq
            expected = float(ref.forward(params, cfg, inputs.flatten(), targets.flatten(), cu,
                                         None, {}))
        ok = abs(mine - expected) < 1e-9
        failures += not ok
        print(f"model {cfg.describe()} swa={swa}: loss twin {mine:.12f} reference {expected:.12f} "
              f"|diff| {abs(mine - expected):.1e}  {'OK' if ok else 'FAIL'}")
    return failures


def check(_args):
    """CPU, float64, tiny dims. FlexAttention has no CPU backward, so gradients are not compared:
    autograd differentiates the forward checked here, and routing is not differentiated."""
    torch.manual_seed(0)
    failures = check_model(check_routing(0))
    print(f"CHECK: {'PASS' if failures == 0 else f'FAIL ({failures} cases)'}")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="a HOCON file with a model { } section (conf/models/...); "
                        "unset keys come from model-defaults.conf")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="model keys over the file, e.g. d_model=768 layers=12 kconv=3")
    parser.add_argument("--seq", type=int, default=8192, help="tokens per sequence (default 8192)")
    parser.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default 10)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps first: compilation and allocator warm-up (default 3)")
    parser.add_argument("--swa", choices=["sdpa", "flex"], default="sdpa",
                        help="sliding-window attention through chunked SDPA or FlexAttention")
    parser.add_argument("--peak-flops", type=float, default=H200_BF16_PEAK,
                        help="the MFU denominator in FLOP/s (default the H200's dense bf16 989.4e12)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--check", action="store_true",
                        help="CPU self-check at tiny dims instead of the timing run")
    args = parser.parse_args()
    try:
        return check(args) if args.check else train(args)
    except ref.BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
