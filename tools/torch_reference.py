#!/usr/bin/env python3
"""Independent PyTorch re-implementation of the MoBA-Spark model, to check the Java loss and gradients.

The model is written from docs/model.md alone (dense / sliding-window / MoBA attention, kconv, GQA,
RoPE, varlen batches); MoBA follows MoBA (arXiv 2502.13189) and FlashMoBA (arXiv 2511.11571), with the
routing built as an explicit mask from the rules in docs/model.md.

Inputs, both written by io.mobaspark.trainer.model.BatchExport:
  --model  model.safetensors: the weights by parameter name (a training checkpoint works too)
  --batch  batch.safetensors: int32 `inputs` [T], `targets` [T] (-1 = not counted), `cu_seqlens`
           [S+1]; float32 `loss` [1] and `grad.<parameter name>` from Java; int32
           `routing.layers.<i>` [H, T, topk] for MoBA layers; the model config as `model.<key>`
           entries of `__metadata__`.

It checks the Java routing against its own (only near-ties may differ), recomputes the loss and every
gradient with autograd (using the Java routing, so that a near-tie cannot blur the comparison), and
prints the loss difference and each parameter's max absolute and relative gradient differences.
Exit status: 0 all within tolerance, 1 a check failed, 2 bad input.

Example:
  python tools/torch_reference.py --model out/model.safetensors --batch out/batch.safetensors \\
      --device cuda --dtype float64
"""

import argparse
import json
import math
import struct
import sys
from dataclasses import dataclass

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    print("error: PyTorch is not installed (pip install torch)", file=sys.stderr)
    sys.exit(2)

KINDS = {"dense": "dense", "swa": "swa", "sliding": "swa", "moba": "moba"}
SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
}


class BadInput(Exception):
    """A file or argument the check cannot use (exit status 2)."""


# ---- files ------------------------------------------------------------------------------------


def read_safetensors(path):
    """All tensors of a safetensors file (CPU) and its __metadata__ map."""
    if sys.byteorder != "little":
        raise BadInput("safetensors data is little-endian; this reader needs a little-endian host")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e}") from e
    if len(raw) < 8:
        raise BadInput(f"{path} is too short to be a safetensors file")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if 8 + header_len > len(raw):
        raise BadInput(f"{path}: header length {header_len} exceeds the file size {len(raw)}")
    try:
        header = json.loads(raw[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: the header is not JSON: {e}") from e
    data = memoryview(raw)[8 + header_len :]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype = SAFETENSORS_DTYPES.get(info.get("dtype"))
        if dtype is None:
            raise BadInput(f"{path}: tensor {name} has unsupported dtype {info.get('dtype')}")
        begin, end = info["data_offsets"]
        shape = list(info["shape"])
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - begin != numel * itemsize or end > len(data):
            raise BadInput(f"{path}: tensor {name} {shape} has bad data_offsets {begin}..{end}")
        if numel == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
        else:
            tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype).reshape(shape)
    return tensors, metadata


# ---- config -----------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    vocab_size: int
    d_model: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    attention: list
    window: int
    block_size: int
    topk: int
    kconv: int
    rope: set
    rope_theta: float
    norm_eps: float
    tie_embeddings: bool

    @staticmethod
    def from_metadata(meta):
        def get(key):
            full = "model." + key
            if full not in meta:
                raise BadInput(f"batch metadata lacks {full}; was it written by BatchExport?")
            return meta[full]

        def kinds(text, allow_none):
            text = text.strip()
            if allow_none and text.lower() in ("", "none"):
                return []
            out = []
            for part in text.split(","):
                kind = KINDS.get(part.strip().lower())
                if kind is None:
                    raise BadInput(f"unknown attention kind '{part}' in '{text}'")
                out.append(kind)
            return out

        c = ModelConfig(
            vocab_size=int(get("vocab_size")),
            d_model=int(get("d_model")),
            layers=int(get("layers")),
            heads=int(get("heads")),
            kv_heads=int(get("kv_heads")),
            head_dim=int(get("head_dim")),
            ffn=int(get("ffn")),
            attention=kinds(get("attention"), False),
            window=int(get("window")),
            block_size=int(get("block_size")),
            topk=int(get("topk")),
            kconv=int(get("kconv")),
            rope=set(kinds(get("rope"), True)),
            rope_theta=float(get("rope_theta")),
            norm_eps=float(get("norm_eps")),
            tie_embeddings=get("tie_embeddings").strip().lower() == "true",
        )
        if c.heads % c.kv_heads != 0:
            raise BadInput(f"heads {c.heads} is not a multiple of kv_heads {c.kv_heads}")
        return c

    def kind(self, layer):
        return self.attention[layer % len(self.attention)]

    def uses_kconv(self, layer):
        return self.kconv > 0 and self.kind(layer) == "moba"

    def parameter_shapes(self):
        """Every parameter name with its shape, in the Java model's order (docs/model.md)."""
        C, V, F_, D = self.d_model, self.vocab_size, self.ffn, self.head_dim
        HD, KD = self.heads * D, self.kv_heads * D
        shapes = {"tok_embeddings.weight": [V, C]}
        for i in range(self.layers):
            p = f"layers.{i}."
            shapes[p + "attn_norm.weight"] = [C]
            shapes[p + "attn.wq.weight"] = [HD, C]
            shapes[p + "attn.wk.weight"] = [KD, C]
            shapes[p + "attn.wv.weight"] = [KD, C]
            shapes[p + "attn.wo.weight"] = [C, HD]
            if self.uses_kconv(i):
                shapes[p + "attn.kconv.weight"] = [self.kv_heads, self.kconv, D]
            shapes[p + "mlp_norm.weight"] = [C]
            shapes[p + "mlp.w_gate.weight"] = [F_, C]
            shapes[p + "mlp.w_up.weight"] = [F_, C]
            shapes[p + "mlp.w_down.weight"] = [C, F_]
        shapes["norm.weight"] = [C]
        if not self.tie_embeddings:
            shapes["lm_head.weight"] = [V, C]
        return shapes

    def describe(self):
        return (
            f"V={self.vocab_size} C={self.d_model} L={self.layers} H={self.heads} "
            f"Hkv={self.kv_heads} D={self.head_dim} F={self.ffn} "
            f"attention={','.join(self.attention)} window={self.window} B={self.block_size} "
            f"topk={self.topk} kconv={self.kconv} rope={','.join(sorted(self.rope)) or 'none'} "
            f"theta={self.rope_theta:g} eps={self.norm_eps:g} tied={self.tie_embeddings}"
        )


# ---- model ------------------------------------------------------------------------------------


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight, per row."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def rope(x, positions, theta):
    """Rotate-half RoPE on [T, heads, D]: channel i pairs with i + D/2, angle pos * theta^(-2i/D)."""
    d = x.shape[-1]
    half = d // 2
    inv_freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64, device=x.device) / d)
    angle = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # [T, D/2]
    cos = angle.cos().to(x.dtype)[:, None, :]
    sin = angle.sin().to(x.dtype)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def key_conv(k, weight, positions):
    """k'_t = k_t + silu(sum_l weight[:, l, :] * k_{t-l}), zero before each sequence's start.

    k [T, Hkv, D]; weight [Hkv, W, D], tap l multiplies the key l tokens back.
    """
    z = torch.zeros_like(k)
    for lag in range(weight.shape[1]):
        shifted = torch.zeros_like(k)
        shifted[lag:] = k[: k.shape[0] - lag]
        inside = (positions >= lag).to(k.dtype)[:, None, None]  # k_{t-l} is in t's sequence
        z = z + weight[:, lag, :][None] * shifted * inside
    return k + F.silu(z)


def route_sequence(q, k, cfg):
    """MoBA routing of one sequence as a boolean [H, n, nb] block mask (docs/model.md).

    q [n, H, D], k [n, Hkv, D] (the attention's keys). Returns (selected, scores): the unscaled gate
    scores [H, n, nb] are returned for the near-tie analysis.
    """
    n, heads, _ = q.shape
    bsz, group = cfg.block_size, cfg.heads // cfg.kv_heads
    nb = (n + bsz - 1) // bsz
    centroids = torch.stack([k[j * bsz : min((j + 1) * bsz, n)].mean(dim=0) for j in range(nb)])
    centroids = centroids.repeat_interleave(group, dim=1)  # [nb, H, D]: head h reads KV head h/group
    scores = torch.einsum("nhd,jhd->hnj", q, centroids)  # [H, n, nb], unscaled
    own = torch.arange(n, device=q.device) // bsz  # [n]
    blocks = torch.arange(nb, device=q.device)
    eligible = blocks[None, :] < own[:, None]  # past blocks end before the query
    # One spare column at index nb receives the empty slots, so that the scatter writes only True.
    selected = torch.zeros(heads, n, nb + 1, dtype=torch.bool, device=q.device)
    others = min(cfg.topk - 1, nb)
    if others > 0:
        masked = scores.masked_fill(~eligible[None], float("-inf"))
        flipped = masked.flip(-1)
        # Stable descending sort of the reversed blocks: among equal scores the higher block wins.
        order = torch.sort(flipped, dim=-1, descending=True, stable=True).indices[..., :others]
        valid = torch.gather(flipped, -1, order) > float("-inf")
        selected.scatter_(-1, (nb - 1 - order).masked_fill(~valid, nb), True)
    selected = selected[..., :nb]
    selected[:, torch.arange(n, device=q.device), own] = True  # the own block, always
    return selected, scores


def java_routing_sequence(table, start, end, cfg):
    """The Java routing rows [H, T, topk] of one sequence as a boolean [H, n, nb] mask, validated."""
    n = end - start
    bsz = cfg.block_size
    nb = (n + bsz - 1) // bsz
    rows = table[:, start:end, :].to(torch.int64)  # [H, n, topk]
    own = torch.arange(n) // bsz
    expected_count = torch.clamp(own + 1, max=cfg.topk)
    count = (rows >= 0).sum(-1)
    if not torch.equal(count, expected_count[None].expand_as(count)):
        raise BadInput("Java routing selects the wrong number of blocks for some queries")
    if ((rows >= 0) & (rows > own[None, :, None])).any():
        raise BadInput("Java routing selects a future block")
    if not ((rows == own[None, :, None]).any(-1)).all():
        raise BadInput("Java routing misses a query's own block")
    selected = torch.zeros(rows.shape[0], n, nb + 1, dtype=torch.bool)
    selected.scatter_(-1, torch.where(rows >= 0, rows, nb), True)
    return selected[..., :nb]


def attention(q, k, v, kind, selected, cfg):
    """Softmax attention of one sequence: q [n, H, D], k, v [n, Hkv, D] -> [n, H, D]."""
    n = q.shape[0]
    group = cfg.heads // cfg.kv_heads
    k = k.repeat_interleave(group, dim=1)  # [n, H, D]
    v = v.repeat_interleave(group, dim=1)
    scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(cfg.head_dim)  # [H, n, n]
    i = torch.arange(n, device=q.device)[:, None]
    j = torch.arange(n, device=q.device)[None, :]
    allowed = (j <= i)[None]  # [1, n, n]
    if kind == "swa":
        allowed = allowed & (i - j < cfg.window)[None]
    elif kind == "moba":
        key_block = torch.arange(n, device=q.device) // cfg.block_size
        allowed = allowed & selected[:, :, key_block]  # [H, n, n]
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return torch.einsum("hij,jhd->ihd", probs, v)


def forward(params, cfg, inputs, targets, cu_seqlens, routing_masks, routing_report):
    """Mean cross-entropy of the batch. routing_masks: {layer: [per-sequence [H, n, nb] masks]} to
    use on MoBA layers (None: this model's own routing). routing_report collects the own routing."""
    device = inputs.device
    T = inputs.shape[0]
    seqs = [(int(cu_seqlens[s]), int(cu_seqlens[s + 1])) for s in range(len(cu_seqlens) - 1)]
    positions = torch.empty(T, dtype=torch.int64, device=device)
    for a, b in seqs:
        positions[a:b] = torch.arange(b - a, device=device)
    H, Hkv, D = cfg.heads, cfg.kv_heads, cfg.head_dim

    x = params["tok_embeddings.weight"][inputs]  # [T, C]
    for layer in range(cfg.layers):
        p = f"layers.{layer}."
        kind = cfg.kind(layer)
        h = rms_norm(x, params[p + "attn_norm.weight"], cfg.norm_eps)
        q = (h @ params[p + "attn.wq.weight"].T).view(T, H, D)
        k = (h @ params[p + "attn.wk.weight"].T).view(T, Hkv, D)
        v = (h @ params[p + "attn.wv.weight"].T).view(T, Hkv, D)
        if cfg.uses_kconv(layer):
            k = key_conv(k, params[p + "attn.kconv.weight"], positions)
        if kind in cfg.rope:
            q = rope(q, positions, cfg.rope_theta)
            k = rope(k, positions, cfg.rope_theta)
        outs = []
        for s, (a, b) in enumerate(seqs):
            selected = None
            if kind == "moba":
                with torch.no_grad():  # routing is not differentiated (docs/model.md)
                    own, scores = route_sequence(q[a:b].detach(), k[a:b].detach(), cfg)
                routing_report.setdefault(layer, []).append((own, scores))
                selected = own if routing_masks is None else routing_masks[layer][s].to(device)
            outs.append(attention(q[a:b], k[a:b], v[a:b], kind, selected, cfg))
        o = torch.cat(outs, dim=0).reshape(T, H * D)
        x = x + o @ params[p + "attn.wo.weight"].T
        h = rms_norm(x, params[p + "mlp_norm.weight"], cfg.norm_eps)
        gate = h @ params[p + "mlp.w_gate.weight"].T
        up = h @ params[p + "mlp.w_up.weight"].T
        x = x + (F.silu(gate) * up) @ params[p + "mlp.w_down.weight"].T
    h = rms_norm(x, params["norm.weight"], cfg.norm_eps)
    head = params["tok_embeddings.weight" if cfg.tie_embeddings else "lm_head.weight"]
    logits = h @ head.T  # [T, V]
    return F.cross_entropy(logits, targets, ignore_index=-1, reduction="mean")


# ---- checks -----------------------------------------------------------------------------------


def compare_routing(report, java_masks, cfg, tie_tol):
    """(rows, differing rows, differing rows that are not near-ties) per exported MoBA layer.

    A differing row is a near-tie when the blocks only this model chose outscore the blocks only Java
    chose by at most tie_tol times the largest |score| of the row's candidate blocks (MOBA.md,
    correctness policy: only near-ties may differ).
    """
    results = {}
    for layer, per_seq in report.items():
        if layer not in java_masks:
            continue
        rows = differ = hard = 0
        for (own, scores), java in zip(per_seq, java_masks[layer]):
            java = java.to(own.device)
            rows += own.shape[0] * own.shape[1]
            diff = (own != java).any(-1)  # [H, n]
            differ += int(diff.sum())
            for h, t in diff.nonzero().tolist():
                s = scores[h, t]
                only_own = float(s[own[h, t] & ~java[h, t]].sum())
                only_java = float(s[java[h, t] & ~own[h, t]].sum())
                scale = float(s[: t // cfg.block_size + 1].abs().max())
                if only_own - only_java > tie_tol * scale:
                    hard += 1
        results[layer] = (rows, differ, hard)
    return results


def main():
    parser = argparse.ArgumentParser(
        description="Check the Java model's loss and gradients against a PyTorch re-implementation "
        "(docs/model.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Example:")[1],
    )
    parser.add_argument("--model", required=True, help="model.safetensors (weights by name)")
    parser.add_argument("--batch", required=True, help="batch.safetensors from BatchExport")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:n] (default cpu)")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"],
                        help="precision of the reference (default float64)")
    parser.add_argument("--routing", default="java", choices=["java", "own"],
                        help="MoBA routing used for the loss and gradients: the exported Java "
                        "routing (default; checked against this model's own first) or this model's")
    parser.add_argument("--loss-tol", type=float, default=1e-4,
                        help="max |loss difference| / max(1, |loss|) (default 1e-4)")
    parser.add_argument("--grad-tol", type=float, default=1e-3,
                        help="max |grad difference| / max |reference grad| per parameter "
                        "(default 1e-3; float32 Java typically agrees to about 1e-6)")
    parser.add_argument("--tie-tol", type=float, default=1e-3,
                        help="routing differences allowed where the gate scores differ by less "
                        "than this fraction of the row's largest score (default 1e-3)")
    args = parser.parse_args()

    try:
        return run(args)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args):
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput("--device cuda, but PyTorch sees no CUDA device")
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if dtype == torch.float32 and device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # TF32 would blur the comparison
        torch.backends.cudnn.allow_tf32 = False

    weights, _ = read_safetensors(args.model)
    batch, meta = read_safetensors(args.batch)
    cfg = ModelConfig.from_metadata(meta)
    print(f"model:  {cfg.describe()}")
    if "backend" in meta:
        print(f"java:   {meta['backend']}")
    print(f"torch:  {torch.__version__} on {device}, {args.dtype}")

    shapes = cfg.parameter_shapes()
    params = {}
    for name, shape in shapes.items():
        if name not in weights:
            raise BadInput(f"{args.model} lacks parameter {name}")
        if list(weights[name].shape) != shape:
            raise BadInput(f"{name} has shape {list(weights[name].shape)}, the config says {shape}")
        params[name] = weights[name].to(device=device, dtype=dtype).requires_grad_(True)
    extra = sorted(set(weights) - set(shapes))
    if extra:
        print(f"note:   ignoring {len(extra)} tensors of {args.model} that are not parameters, "
              f"e.g. {extra[0]}")

    for name in ("inputs", "targets", "cu_seqlens", "loss"):
        if name not in batch:
            raise BadInput(f"{args.batch} lacks tensor '{name}'")
    inputs = batch["inputs"].to(torch.int64)
    targets = batch["targets"].to(torch.int64)
    cu = batch["cu_seqlens"].to(torch.int64)
    T = inputs.shape[0]
    if targets.shape[0] != T or cu[0] != 0 or cu[-1] != T or (cu[1:] <= cu[:-1]).any():
        raise BadInput(f"inconsistent batch: T={T}, targets {targets.shape[0]}, cu_seqlens {cu}")
    if inputs.min() < 0 or inputs.max() >= cfg.vocab_size:
        raise BadInput("inputs hold ids outside the vocabulary")
    if ((targets < -1) | (targets >= cfg.vocab_size)).any():
        raise BadInput("targets hold ids outside the vocabulary (other than -1)")
    counted = int((targets != -1).sum())
    print(f"batch:  {T} tokens in {len(cu) - 1} sequences, {counted} counted targets")

    java_masks = {}
    for layer in range(cfg.layers):
        if cfg.kind(layer) != "moba":
            continue
        key = f"routing.layers.{layer}"
        if key not in batch:
            if args.routing == "java":
                raise BadInput(f"{args.batch} lacks {key}; use --routing own")
            continue
        table = batch[key]
        if list(table.shape) != [cfg.heads, T, cfg.topk]:
            raise BadInput(f"{key} has shape {list(table.shape)}, expected {[cfg.heads, T, cfg.topk]}")
        java_masks[layer] = [java_routing_sequence(table, int(cu[s]), int(cu[s + 1]), cfg)
                             for s in range(len(cu) - 1)]

    report = {}
    loss = forward(params, cfg, inputs.to(device), targets.to(device), cu,
                   java_masks if args.routing == "java" else None, report)
    loss.backward()

    failed = False
    for layer, (rows, differ, hard) in compare_routing(report, java_masks, cfg, args.tie_tol).items():
        ok = hard == 0
        failed |= not ok
        print(f"routing layers.{layer}: {rows} (head, query) rows, {differ} differ from Java, "
              f"{hard} beyond near-ties  {'OK' if ok else 'FAIL'}")

    java_loss = float(batch["loss"].reshape(-1)[0])
    ref_loss = float(loss.detach())
    loss_diff = abs(java_loss - ref_loss)
    loss_ok = loss_diff <= args.loss_tol * max(1.0, abs(ref_loss))
    failed |= not loss_ok
    print(f"loss:   java {java_loss:.8f}  torch {ref_loss:.8f}  |diff| {loss_diff:.3e}  "
          f"{'OK' if loss_ok else 'FAIL'}")

    print(f"{'parameter':<34} {'shape':<16} {'max|ref|':>10} {'max|diff|':>10} {'rel':>10}")
    worst = 0.0
    for name, shape in shapes.items():
        key = "grad." + name
        if key not in batch:
            raise BadInput(f"{args.batch} lacks {key}")
        java = batch[key].to(torch.float64)
        ref = params[name].grad.detach().to("cpu", torch.float64)
        if list(java.shape) != shape:
            raise BadInput(f"{key} has shape {list(java.shape)}, expected {shape}")
        scale = float(ref.abs().max())
        diff = float((java - ref).abs().max())
        rel = diff / scale if scale > 0 else diff
        ok = rel <= args.grad_tol
        failed |= not ok
        worst = max(worst, rel)
        print(f"{name:<34} {str(shape):<16} {scale:>10.3e} {diff:>10.3e} {rel:>10.3e}  "
              f"{'OK' if ok else 'FAIL'}")

    verdict = "FAIL" if failed else "PASS"
    print(f"RESULT: {verdict} (worst gradient rel diff {worst:.3e}, tolerance {args.grad_tol:g}; "
          f"loss tolerance {args.loss_tol:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
