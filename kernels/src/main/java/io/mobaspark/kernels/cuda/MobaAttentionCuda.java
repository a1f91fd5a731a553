package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.Shape;
import jcuda.driver.JCudaDriver;

/**
 * {@code attentionForward} and {@code attentionBackward} of kinds MOBA, DENSE and SLIDING on the MoBA
 * kernels (docs/moba-cuda.md, "Forward", "Backward" and "Sliding window"). DENSE runs as MoBA with
 * one block per sequence and {@code topk = 1} ({@link MobaGeometry}): the own-block kernel is then a
 * causal FlashAttention tile over every earlier key, with a routing table of zeros instead of a
 * router. SLIDING has DENSE's layout and runs the window kernels (moba_window.cu), which take each
 * row's window in place of routing and lists: no router, list build or partials. All run in the
 * slices of {@link MobaSlicing}, so that the one workspace that grows with heads x tokens, the slice
 * arena, holds one slice's forward partials or backward dQ accumulator and stays within the slice
 * budget (max(4% of the q, k, v bytes, 512 MiB) unless {@link #sliceBudget} overrides it). Workspace
 * stays cached between calls and grows on demand; no host sync.
 */
final class MobaAttentionCuda implements AutoCloseable {
  private final CudaContext context;
  private final MobaListsCuda lists;
  // One forward slice's partials, part_o [hn, tb-ta, topk-1, D] bf16 (one normalized partial per
  // past slot) then part_lse [hn, tb-ta, topk-1] fp32; or one backward slice's dq_acc
  // [tb-ta, gn*G, D] fp32 (atomics of moba_bwd_main). Never both at once: calls run in stream order.
  private final ScratchBuffer sliceArena;
  private final ScratchBuffer denseRouting; // [H, T, 1] int, all 0: the own (only) block
  private final ScratchBuffer delta; // [H, T] fp32, rowsum(dO * O)
  private long budgetOverride; // bytes; 0: MobaSlicing's policy

  MobaAttentionCuda(CudaContext context) {
    this.context = context;
    this.lists = new MobaListsCuda(context);
    this.sliceArena = new ScratchBuffer(context);
    this.denseRouting = new ScratchBuffer(context);
    this.delta = new ScratchBuffer(context);
  }

  /**
   * Slices every later call under {@code bytes} instead of the policy's budget; 0 restores the
   * policy. A tiny budget cuts small problems into many slices, whose results must equal one
   * slice's (MobaParity).
   */
  void sliceBudget(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("slice budget must be 0 (the policy) or positive, got "
          + bytes + " bytes");
    }
    budgetOverride = bytes;
  }

  void forward(CudaTensor out, CudaTensor lse, CudaTensor q, CudaTensor k, CudaTensor v,
      CudaIntTensor routing, AttentionConfig config, DeviceLayout layout) {
    MobaGeometry g = MobaChecks.forward(op(out), op(lse), op(q), op(k), op(v), shape(routing),
        config, layout.layout(), maxShared());
    requireOutputApart(out, q, k, v, lse);
    requireOutputApart(lse, q, k, v);
    if (g.sliding()) {
      // moba_window.cu: moba_fwd_window_d{D}(q, k, v, o, lse, cu_seqlens, cu_qtiles, seqs, tokens,
      // heads, kv_heads, window, scale); grid (query tiles, H). Nothing to merge, so no slices.
      context.kernel("moba_window", "moba_fwd_window_d" + g.dim()).launch(
          new LaunchShape(g.queryTiles(), g.heads(), 1, MobaKernelShapes.THREADS, 1, 1,
              MobaKernelShapes.windowForwardShared(g.dim())),
          new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(out.buffer())
              .ptr(lse.buffer()).ptr(layout.cuSeqlens()).ptr(layout.cuQtiles(context))
              .i32(g.sequences()).i32(g.tokens()).i32(g.heads()).i32(g.kvHeads()).i32(g.window())
              .f32(g.scale()));
      return;
    }
    DeviceBuffer table = routingTable(routing, g);
    MobaListsCuda.Lists l = lists.build(table, g, layout);
    MobaSlicing slicing = slicing(g, layout);
    DeviceBuffer arena = sliceArena.atLeast(slicing.forwardBytes());
    int past = g.topk() - 1;
    String suffix = "_d" + g.dim();
    int shared = MobaKernelShapes.forwardShared(g.dim());
    for (MobaSlicing.Forward f : slicing.forward()) {
      long slots = (long) f.hn() * (f.tb() - f.ta()) * past; // (head, row, past slot) partials
      long lseOffset = 2L * slots * g.dim(); // part_lse follows part_o
      if (past > 0) {
        MobaListsCuda.Plan plan = lists.plan(l, g, layout, f.h0(), f.hn(), f.ta(), f.tb());
        // moba_fwd.cu: moba_fwd_past_d{D} (B <= 128) or moba_fwd_past_wide_d{D}(q, k, v, part_o,
        // part_lse, lists, seg, chunk_off, cu_seqlens, cu_blocks, seqs, heads, kv_heads,
        // total_blocks, block_size, topk, scale, h0, hn, ta, tb). One CTA per work item of
        // pastItemRows(B) rows of one (head, block) run; the grid is an upper bound of the item
        // count known on the host (hn*NB + slots/rows), the surplus CTAs exit.
        long bound = (long) f.hn() * g.totalBlocks()
            + slots / MobaKernelShapes.pastItemRows(g.blockSize());
        context.kernel("moba_fwd", MobaKernelShapes.pastKernel(g.blockSize()) + suffix).launch(
            new LaunchShape(bound, 1, 1, MobaKernelShapes.THREADS, 1, 1,
                MobaKernelShapes.pastShared(g.dim(), g.blockSize())),
            new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(arena)
                .ptr(arena, lseOffset).ptr(l.entries()).ptr(plan.runs()).ptr(plan.chunkOffsets())
                .ptr(layout.cuSeqlens()).ptr(layout.cuBlocks(context, g.blockSize()))
                .i32(g.sequences()).i32(g.heads()).i32(g.kvHeads()).i32(g.totalBlocks())
                .i32(g.blockSize()).i32(g.topk()).f32(g.scale()).i32(f.h0()).i32(f.hn())
                .i32(f.ta()).i32(f.tb()));
      }
      // moba_fwd.cu: moba_fwd_own_d{D}(q, k, v, o, lse, part_o, part_lse, routing, cu_seqlens,
      // cu_qtiles, seqs, tokens, heads, kv_heads, block_size, topk, scale, h0, q0, ta, tb); grid
      // (q1 - q0, hn): the own block causally, then the log-sum-exp merge of the row's past
      // partials of this slice.
      context.kernel("moba_fwd", "moba_fwd_own" + suffix).launch(
          new LaunchShape(f.q1() - f.q0(), f.hn(), 1, MobaKernelShapes.THREADS, 1, 1, shared),
          new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer()).ptr(out.buffer())
              .ptr(lse.buffer()).ptr(arena).ptr(arena, lseOffset).ptr(table)
              .ptr(layout.cuSeqlens()).ptr(layout.cuQtiles(context)).i32(g.sequences())
              .i32(g.tokens()).i32(g.heads()).i32(g.kvHeads()).i32(g.blockSize()).i32(g.topk())
              .f32(g.scale()).i32(f.h0()).i32(f.q0()).i32(f.ta()).i32(f.tb()));
    }
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
    MobaListsCuda.Lists l = g.sliding() ? null : lists.build(routingTable(routing, g), g, layout);
    MobaSlicing slicing = slicing(g, layout);
    DeviceBuffer dqAcc = sliceArena.atLeast(slicing.backwardBytes());
    DeviceBuffer rowDelta = delta.atLeast(4L * g.heads() * g.tokens());

    // moba_bwd.cu: moba_bwd_delta(o, dout, delta, tokens, heads, dim); D / 8 threads per (t, h)
    // row, grid ceil(T * H * D / 1024) x 128.
    long rowsOfHeads = (long) g.tokens() * g.heads();
    int perCta = MobaKernelShapes.deltaRowsPerCta(g.dim());
    context.kernel("moba_bwd", "moba_bwd_delta").launch(
        LaunchShape.of((rowsOfHeads + perCta - 1) / perCta, MobaKernelShapes.DELTA_THREADS),
        new KernelArgs().ptr(out.buffer()).ptr(dOut.buffer()).ptr(rowDelta).i32(g.tokens())
            .i32(g.heads()).i32(g.dim()));

    int keyTile = g.sliding() ? MobaKernelShapes.windowKeyTile(g.dim())
        : MobaKernelShapes.keyTile(g.blockSize());
    int tilesPerBlock = (g.blockSize() + keyTile - 1) / keyTile;
    int group = g.heads() / g.kvHeads();
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    String tileModule = g.sliding() ? "moba_window" : "moba_bwd";
    int tileShared = MobaKernelShapes.backwardShared(g.dim(), keyTile,
        context.module(tileModule).file().endsWith(".sm_90a.cubin"));
    for (MobaSlicing.Backward b : slicing.backward()) {
      int rows = b.tb() - b.ta();
      int width = b.gn() * group * g.dim(); // the slice's query heads' dQ values per row
      long elements = (long) rows * width;
      context.bind();
      Cuda.check(JCudaDriver.cuMemsetD32Async(dqAcc.pointer(), 0, elements, context.stream()),
          "cuMemsetD32Async(dq accumulator, " + elements + " floats)");
      LaunchShape tiles = new LaunchShape((long) (b.b1() - b.b0()) * tilesPerBlock, b.gn(), 1,
          2 * keyTile, 1, 1, tileShared);
      KernelArgs args = new KernelArgs().ptr(q.buffer()).ptr(k.buffer()).ptr(v.buffer())
          .ptr(dOut.buffer()).ptr(lse.buffer()).ptr(rowDelta);
      if (g.sliding()) {
        // moba_window.cu: moba_bwd_window_d{D}_k{KT}(q, k, v, dout, lse, delta, dq_acc, dk, dv,
        // cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks, block_size, window,
        // scale, b0, g0, ta); the grid of moba_bwd_main (B is a multiple of 128, hence of KT).
        context.kernel(tileModule, "moba_bwd_window_d" + g.dim() + "_k" + keyTile).launch(tiles,
            args.ptr(dqAcc).ptr(dk.buffer()).ptr(dv.buffer()).ptr(layout.cuSeqlens())
                .ptr(layout.cuBlocks(context, g.blockSize())).i32(g.sequences()).i32(g.tokens())
                .i32(g.heads()).i32(g.kvHeads()).i32(g.totalBlocks()).i32(g.blockSize())
                .i32(g.window()).f32(g.scale()).i32(b.b0()).i32(b.g0()).i32(b.ta()));
      } else {
        // moba_bwd.cu: moba_bwd_main_d{D}_k{KT}(q, k, v, dout, lse, delta, lists, list_off,
        // dq_acc, dk, dv, cu_seqlens, cu_blocks, seqs, tokens, heads, kv_heads, total_blocks,
        // block_size, scale, b0, g0, ta); grid ((b1 - b0) * ceil(B / KT), gn), 2 * KT threads,
        // BwdSmem<D, KT>.
        context.kernel(tileModule, "moba_bwd_main_d" + g.dim() + "_k" + keyTile).launch(tiles,
            args.ptr(l.entries()).ptr(l.offsets()).ptr(dqAcc).ptr(dk.buffer()).ptr(dv.buffer())
                .ptr(layout.cuSeqlens()).ptr(layout.cuBlocks(context, g.blockSize()))
                .i32(g.sequences()).i32(g.tokens()).i32(g.heads()).i32(g.kvHeads())
                .i32(g.totalBlocks()).i32(g.blockSize()).f32(g.scale()).i32(b.b0()).i32(b.g0())
                .i32(b.ta()));
      }
      // moba_bwd.cu: moba_bwd_dq_convert(dq_acc, dq, rows, width, heads, dim, h0, ta, scale); the
      // slice's rows by width values, four per thread (D is 64 or 128).
      long quads = elements / 4;
      context.kernel("moba_bwd", "moba_bwd_dq_convert").launch(
          LaunchShape.of((quads + threads - 1) / threads, threads),
          new KernelArgs().ptr(dqAcc).ptr(dq.buffer()).i32(rows).i32(width).i32(g.heads())
              .i32(g.dim()).i32(b.g0() * group).i32(b.ta()).f32(g.scale()));
    }
  }

  private MobaSlicing slicing(MobaGeometry g, DeviceLayout layout) {
    long budget = budgetOverride > 0 ? budgetOverride : MobaSlicing.budget(g);
    return MobaSlicing.of(g, layout.layout(), budget);
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
    sliceArena.close();
    denseRouting.close();
    delta.close();
  }
}
