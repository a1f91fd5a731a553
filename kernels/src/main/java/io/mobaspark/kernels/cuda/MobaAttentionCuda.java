package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.Shape;
import jcuda.driver.JCudaDriver;

/**
 * {@code attentionForward} and {@code attentionBackward} of kinds MOBA and DENSE on the MoBA kernels
 * (docs/moba-cuda.md, "Forward" and "Backward"). DENSE runs as MoBA with one block per sequence and
 * {@code topk = 1} ({@link MobaGeometry}): the own-block kernel is then a causal FlashAttention
 * tile over every earlier key, with a routing table of zeros instead of a router. Workspace stays
 * cached between calls and grows on demand: the forward's past-block partials
 * {@code [H, T, topk-1, D]} bf16 and {@code [H, T, topk-1]} fp32, the backward's fp32 dQ
 * accumulator {@code [T, H, D]} and delta {@code [H, T]}. No host sync. The kernels also run in
 * slices of heads and query tiles (forward) or KV heads and sequences (backward) that bound the
 * partials and dQ accumulator to a budget (docs/moba-cuda.md, "Slices"); this class launches one
 * slice over everything.
 */
final class MobaAttentionCuda implements AutoCloseable {
  private final CudaContext context;
  private final MobaListsCuda lists;
  private final ScratchBuffer partialOut; // [H, T, topk-1, D] bf16, one normalized partial per past slot
  private final ScratchBuffer partialLse; // [H, T, topk-1] fp32
  private final ScratchBuffer denseRouting; // [H, T, 1] int, all 0: the own (only) block
  private final ScratchBuffer dqAccumulator; // [T, H, D] fp32, atomics of moba_bwd_main
  private final ScratchBuffer delta; // [H, T] fp32, rowsum(dO * O)

  MobaAttentionCuda(CudaContext context) {
    this.context = context;
    this.lists = new MobaListsCuda(context);
    this.partialOut = new ScratchBuffer(context);
    this.partialLse = new ScratchBuffer(context);
    this.denseRouting = new ScratchBuffer(context);
    this.dqAccumulator = new ScratchBuffer(context);
    this.delta = new ScratchBuffer(context);
  }

  void forward(CudaTensor out, CudaTensor lse, CudaTensor q, CudaTensor k, CudaTensor v,
      CudaIntTensor routing, AttentionConfig config, DeviceLayout layout) {
    MobaGeometry g = MobaChecks.forward(op(out), op(lse), op(q), op(k), op(v), shape(routing),
        config, layout.layout(), maxShared());
    requireOutputApart(out, q, k, v, lse);
    requireOutputApart(lse, q, k, v);
    DeviceBuffer table = routingTable(routing, g);
    MobaListsCuda.Lists l = lists.build(table, g, layout);
    int past = g.topk() - 1;
    long rows = (long) g.heads() * g.tokens() * past;
    DeviceBuffer partO = partialOut.atLeast(2L * rows * g.dim());
    DeviceBuffer partLse = partialLse.atLeast(4L * rows);
    String suffix = "_d" + g.dim();
    int shared = MobaKernelShapes.forwardShared(g.dim());
    if (past > 0) {
      // One slice: heads [0, H), rows [0, T).
      MobaListsCuda.Plan plan = lists.plan(l, g, layout, 0, g.heads(), 0, g.tokens());
      // moba_fwd.cu: moba_fwd_past_d{D}(q, k, v, part_o, part_lse, lists, seg, chunk_off,
      // cu_seqlens, cu_blocks, seqs, heads, kv_heads, total_blocks, block_size, topk, scale, h0,
      // hn, ta, tb). One CTA per 64-row chunk of past rows; the grid is an upper bound of the
      // chunk count known on the host (hn*NB + hn*(tb-ta)*(topk-1)/64), the surplus CTAs exit.
      long bound = g.pairs() + rows / MobaKernelShapes.TILE;
      context.kernel("moba_fwd", "moba_fwd_past" + suffix).launch(
          new LaunchShape(bound, 1, 1, MobaKernelShapes.THREADS, 1, 1, shared),
          new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(partO).ptr(partLse)
              .ptr(l.entries()).ptr(plan.runs()).ptr(plan.chunkOffsets()).ptr(layout.cuSeqlens())
              .ptr(layout.cuBlocks(context, g.blockSize())).i32(g.sequences()).i32(g.heads())
              .i32(g.kvHeads()).i32(g.totalBlocks()).i32(g.blockSize()).i32(g.topk())
              .f32(g.scale()).i32(0).i32(g.heads()).i32(0).i32(g.tokens()));
    }
    // moba_fwd.cu: moba_fwd_own_d{D}(q, k, v, o, lse, part_o, part_lse, routing, cu_seqlens,
    // cu_qtiles, seqs, tokens, heads, kv_heads, block_size, topk, scale, h0, q0, ta, tb); grid
    // (query tiles, H): the own block causally, then the log-sum-exp merge of the row's past
    // partials.
    context.kernel("moba_fwd", "moba_fwd_own" + suffix).launch(
        new LaunchShape(g.queryTiles(), g.heads(), 1, MobaKernelShapes.THREADS, 1, 1, shared),
        new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(out.buffer())
            .ptr(lse.buffer()).ptr(partO).ptr(partLse).ptr(table).ptr(layout.cuSeqlens())
            .ptr(layout.cuQtiles(context)).i32(g.sequences()).i32(g.tokens()).i32(g.heads())
            .i32(g.kvHeads()).i32(g.blockSize()).i32(g.topk()).f32(g.scale()).i32(0).i32(0)
            .i32(0).i32(g.tokens()));
  }

  void backward(CudaTensor dq, CudaTensor dk, CudaTensor dv, CudaTensor dOut, CudaTensor q,
      CudaTensor k, CudaTensor v, CudaTensor out, CudaTensor lse, CudaIntTensor routing,
      AttentionConfig config, DeviceLayout layout) {
    MobaGeometry g = MobaChecks.backward(op(dq), op(dk), op(dv), op(dOut), op(q), op(k), op(v),
        op(out), op(lse), shape(routing), config, layout.layout(), maxShared());
    for (CudaTensor grad : new CudaTensor[] {dq, dk, dv}) {
      requireOutputApart(grad, q, k, v, dOut, out, lse);
    }
    requireOutputApart(dq, dk, dv);
    requireOutputApart(dk, dv);
    DeviceBuffer table = routingTable(routing, g);
    MobaListsCuda.Lists l = lists.build(table, g, layout);
    long elements = (long) g.tokens() * g.heads() * g.dim();
    DeviceBuffer dqAcc = dqAccumulator.atLeast(4L * elements);
    DeviceBuffer rowDelta = delta.atLeast(4L * g.heads() * g.tokens());
    context.bind();
    Cuda.check(JCudaDriver.cuMemsetD32Async(dqAcc.pointer(), 0, elements, context.stream()),
        "cuMemsetD32Async(dq accumulator, " + elements + " floats)");

    // moba_bwd.cu: moba_bwd_delta(o, dout, delta, tokens, heads, dim); one warp per (t, h) row.
    long rowsOfHeads = (long) g.tokens() * g.heads();
    int perCta = MobaKernelShapes.DELTA_ROWS_PER_CTA;
    context.kernel("moba_bwd", "moba_bwd_delta").launch(
        LaunchShape.of((rowsOfHeads + perCta - 1) / perCta, 32 * perCta),
        new KernelArgs().ptr(out.buffer()).ptr(dOut.buffer()).ptr(rowDelta).i32(g.tokens())
            .i32(g.heads()).i32(g.dim()));

    // moba_bwd.cu: moba_bwd_main_d{D}_k{KT}(q, k, v, dout, lse, delta, lists, list_off, dq_acc, dk,
    // dv, cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks, block_size, scale,
    // b0, g0, ta); one slice: grid (NB * ceil(B / KT), Hkv), 2 * KT threads, BwdSmem<D, KT>::bytes.
    int keyTile = MobaKernelShapes.keyTile(g.blockSize());
    long tiles = (long) g.totalBlocks() * ((g.blockSize() + keyTile - 1) / keyTile);
    context.kernel("moba_bwd", "moba_bwd_main_d" + g.dim() + "_k" + keyTile).launch(
        new LaunchShape(tiles, g.kvHeads(), 1, 2 * keyTile, 1, 1,
            MobaKernelShapes.backwardShared(g.dim(), keyTile)),
        new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(dOut.buffer())
            .ptr(lse.buffer()).ptr(rowDelta).ptr(l.entries()).ptr(l.offsets()).ptr(dqAcc)
            .ptr(dk.buffer()).ptr(dv.buffer()).ptr(layout.cuSeqlens())
            .ptr(layout.cuBlocks(context, g.blockSize())).i32(g.sequences()).i32(g.tokens())
            .i32(g.heads()).i32(g.kvHeads()).i32(g.totalBlocks()).i32(g.blockSize())
            .f32(g.scale()).i32(0).i32(0).i32(0));

    // moba_bwd.cu: moba_bwd_dq_convert(dq_acc, dq, rows, width, heads, dim, h0, ta, scale); one
    // slice of T rows by H * D values, four per thread.
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    long quads = elements / 4; // D is 64 or 128
    context.kernel("moba_bwd", "moba_bwd_dq_convert").launch(
        LaunchShape.of((quads + threads - 1) / threads, threads),
        new KernelArgs().ptr(dqAcc).ptr(dq.buffer()).i32(g.tokens()).i32(g.heads() * g.dim())
            .i32(g.heads()).i32(g.dim()).i32(0).i32(0).f32(g.scale()));
  }

  /** The MOBA routing tensor, or for DENSE the all-zero table of one own block per query. */
  private DeviceBuffer routingTable(CudaIntTensor routing, MobaGeometry g) {
    if (routing != null) {
      return routing.buffer();
    }
    long entries = g.routingEntries();
    DeviceBuffer zeros = denseRouting.atLeast(4L * entries);
    context.bind();
    // Zeroed on every call: the buffer may have grown (contents undefined), and a memset of
    // 4 bytes per query row is nothing beside the attention it feeds.
    Cuda.check(JCudaDriver.cuMemsetD32Async(zeros.pointer(), 0, entries, context.stream()),
        "cuMemsetD32Async(dense routing, " + entries + " ints)");
    return zeros;
  }

  private int maxShared() {
    return context.device().sharedPerBlockOptIn();
  }

  /** The kernels read their inputs while writing their outputs: no output may be an input. */
  private static void requireOutputApart(CudaTensor output, CudaTensor... inputs) {
    for (CudaTensor input : inputs) {
      if (output.buffer() == input.buffer()) {
        throw new IllegalArgumentException("tensor " + output.shape() + " must not be the same tensor"
            + " as " + input.shape() + ": attention reads its inputs while it writes its outputs");
      }
    }
  }

  private static MobaChecks.Operand op(CudaTensor t) {
    return MobaChecks.Operand.of(t);
  }

  private static Shape shape(CudaIntTensor routing) {
    return routing == null ? null : routing.shape();
  }

  @Override
  public void close() {
    lists.close();
    partialOut.close();
    partialLse.close();
    denseRouting.close();
    dqAccumulator.close();
    delta.close();
  }
}
