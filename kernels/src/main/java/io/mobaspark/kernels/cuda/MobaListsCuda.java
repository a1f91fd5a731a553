package io.mobaspark.kernels.cuda;

/**
 * The key-block-centric lists the forward's past-block kernel and the backward walk, built from a
 * routing table on the GPU (moba_router.cu, docs/moba-cuda.md "Key-block-centric lists"): count
 * into a histogram {@code [H, NB, 32]}, exclusive scan, ordered scatter, then per (head, block) the
 * list offsets and the number of 64-row chunks of past rows, scanned again. Deterministic, no
 * sort, no host sync. Rebuilt by every forward and backward call, because the Backend's routing
 * tensor is an input that the caller may have rewritten in between (one routing tensor per layer
 * is not promised); at 64K tokens that costs about 0.85 ms per call (docs/perf/moba.md).
 */
final class MobaListsCuda implements AutoCloseable {
  /** The built lists; valid until the next {@link #build}. */
  record Lists(DeviceBuffer entries, DeviceBuffer offsets, DeviceBuffer chunkOffsets) {}

  private final CudaContext context;
  private final ScratchBuffer counts; // [H * NB * 32 + 1] int: histogram, scanned in place
  private final ScratchBuffer entries; // [H * T * topk] int: (t << 6) | slot, ascending t per list
  private final ScratchBuffer offsets; // [H * NB + 1] int: start of each (head, block) list
  private final ScratchBuffer chunks; // [H * NB] int: 64-row chunks of past rows per list
  private final ScratchBuffer chunkOffsets; // [H * NB + 1] int: exclusive scan of chunks
  private final ScratchBuffer scanPartials; // [ceil(n / 4096) + 1] int, the total last

  MobaListsCuda(CudaContext context) {
    this.context = context;
    this.counts = new ScratchBuffer(context);
    this.entries = new ScratchBuffer(context);
    this.offsets = new ScratchBuffer(context);
    this.chunks = new ScratchBuffer(context);
    this.chunkOffsets = new ScratchBuffer(context);
    this.scanPartials = new ScratchBuffer(context);
  }

  /** Lists of routing {@code [H, T, topk]} (already checked against {@code g}). */
  Lists build(DeviceBuffer routing, MobaGeometry g, DeviceLayout layout) {
    int cells = (int) g.histogramCells();
    int pairs = (int) g.pairs();
    DeviceBuffer hist = counts.atLeast(4L * (cells + 1));
    DeviceBuffer list = entries.atLeast(4L * g.routingEntries());
    DeviceBuffer off = offsets.atLeast(4L * (pairs + 1));
    DeviceBuffer chunk = chunks.atLeast(4L * pairs);
    DeviceBuffer chunkOff = chunkOffsets.atLeast(4L * (pairs + 1));
    DeviceBuffer cuBlocks = layout.cuBlocks(context, g.blockSize());

    // moba_router.cu: moba_list_count / moba_list_scatter(routing, hist, [lists,] cu_seqlens,
    // cu_blocks, tokens, total_blocks, topk); one warp per (row tile, sequence, head).
    LaunchShape walk = new LaunchShape(MobaKernelShapes.LIST_TILES, g.sequences(), g.heads(), 32, 1,
        1, (int) MobaKernelShapes.listShared(g.maxBlocks(), g.topk()));
    context.kernel("moba_router", "moba_list_count").launch(walk, new KernelArgs().ptr(routing)
        .ptr(hist).ptr(layout.cuSeqlens()).ptr(cuBlocks).i32(g.tokens()).i32(g.totalBlocks())
        .i32(g.topk()));
    scan(hist, hist, cells);
    context.kernel("moba_router", "moba_list_scatter").launch(walk, new KernelArgs().ptr(routing)
        .ptr(hist).ptr(list).ptr(layout.cuSeqlens()).ptr(cuBlocks).i32(g.tokens())
        .i32(g.totalBlocks()).i32(g.topk()));

    // moba_router.cu: moba_list_offsets(hist_scanned, list_off, chunks, cu_seqlens, cu_blocks,
    // seqs, heads, total_blocks, block_size); one thread per (head, block) plus one for the total.
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    context.kernel("moba_router", "moba_list_offsets").launch(
        LaunchShape.of((pairs + threads) / threads, threads), new KernelArgs().ptr(hist).ptr(off)
            .ptr(chunk).ptr(layout.cuSeqlens()).ptr(cuBlocks).i32(g.sequences()).i32(g.heads())
            .i32(g.totalBlocks()).i32(g.blockSize()));
    scan(chunk, chunkOff, pairs);
    return new Lists(list, off, chunkOff);
  }

  /**
   * Exclusive scan of {@code n} ints into {@code out [n + 1]} (may be {@code in}): moba_scan_partials
   * per 4096-element chunk, moba_scan_bases on one CTA, moba_scan_apply.
   */
  private void scan(DeviceBuffer in, DeviceBuffer out, int n) {
    int parts = (n + MobaKernelShapes.SCAN_CHUNK - 1) / MobaKernelShapes.SCAN_CHUNK;
    DeviceBuffer partials = scanPartials.atLeast(4L * (parts + 1));
    int threads = MobaKernelShapes.SCAN_THREADS;
    context.kernel("moba_router", "moba_scan_partials").launch(LaunchShape.of(parts, threads),
        new KernelArgs().ptr(in).ptr(partials).i32(n));
    context.kernel("moba_router", "moba_scan_bases").launch(LaunchShape.of(1, threads),
        new KernelArgs().ptr(partials).i32(parts));
    context.kernel("moba_router", "moba_scan_apply").launch(LaunchShape.of(parts, threads),
        new KernelArgs().ptr(in).ptr(out).ptr(partials).i32(n));
  }

  @Override
  public void close() {
    counts.close();
    entries.close();
    offsets.close();
    chunks.close();
    chunkOffsets.close();
    scanPartials.close();
  }
}
