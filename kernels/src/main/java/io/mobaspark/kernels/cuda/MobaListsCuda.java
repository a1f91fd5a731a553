package io.mobaspark.kernels.cuda;

/**
 * The key-block-centric lists the forward's past-block kernel and the backward walk, built from a
 * routing table on the GPU (moba_router.cu, docs/moba-cuda.md "Key-block-centric lists"): count
 * into a histogram {@code [H, NB, 16]}, exclusive scan, ordered scatter, then per (head, block) the
 * list offsets. Deterministic, no sort, no host sync. {@link #plan} cuts the lists of one forward
 * slice into work items of past rows ({@link MobaKernelShapes#pastItemRows} each; moba_fwd_plan,
 * scanned). Rebuilt by every forward and backward call, because the Backend's routing
 * tensor is an input that the caller may have rewritten in between (one routing tensor per layer
 * is not promised); at 64K tokens that costs about 0.85 ms per call (docs/perf/moba.md).
 */
final class MobaListsCuda implements AutoCloseable {
  /** The built lists; valid until the next {@link #build}. */
  record Lists(DeviceBuffer entries, DeviceBuffer offsets) {}

  /**
   * One forward slice's runs of past entries, {@code seg [hn * NB][2]}, and the exclusive scan of
   * their work items, {@code chunkOffsets [hn * NB + 1]}; valid until the next {@link #plan}.
   */
  record Plan(DeviceBuffer runs, DeviceBuffer chunkOffsets) {}

  private final CudaContext context;
  private final ScratchBuffer counts; // [H * NB * 32 + 1] int: histogram, scanned in place
  private final ScratchBuffer entries; // [H * T * topk] int: (t << 6) | slot, ascending t per list
  private final ScratchBuffer offsets; // [H * NB + 1] int: start of each (head, block) list
  private final ScratchBuffer runs; // [hn * NB][2] int: a slice's past entries of each list
  private final ScratchBuffer chunks; // [hn * NB] int: work items of those runs
  private final ScratchBuffer chunkOffsets; // [hn * NB + 1] int: exclusive scan of chunks
  private final ScratchBuffer scanPartials; // [ceil(n / 4096) + 1] int, the total last

  MobaListsCuda(CudaContext context) {
    this.context = context;
    this.counts = new ScratchBuffer(context);
    this.entries = new ScratchBuffer(context);
    this.offsets = new ScratchBuffer(context);
    this.runs = new ScratchBuffer(context);
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

    // moba_router.cu: moba_list_offsets(hist_scanned, list_off, heads, total_blocks); one thread
    // per (head, block) plus one for the total.
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    context.kernel("moba_router", "moba_list_offsets").launch(
        LaunchShape.of((pairs + threads) / threads, threads), new KernelArgs().ptr(hist).ptr(off)
            .i32(g.heads()).i32(g.totalBlocks()));
    return new Lists(list, off);
  }

  /**
   * The plan of the forward slice of heads {@code [h0, h0 + hn)} and rows {@code [ta, tb)} (whole
   * 64-row query tiles) over lists {@code l}.
   */
  Plan plan(Lists l, MobaGeometry g, DeviceLayout layout, int h0, int hn, int ta, int tb) {
    int pairs = hn * g.totalBlocks();
    DeviceBuffer run = runs.atLeast(8L * pairs);
    DeviceBuffer chunk = chunks.atLeast(4L * pairs);
    DeviceBuffer chunkOff = chunkOffsets.atLeast(4L * (pairs + 1));
    // moba_fwd.cu: moba_fwd_plan(lists, list_off, seg, chunks, cu_seqlens, cu_blocks, seqs,
    // total_blocks, block_size, h0, hn, ta, tb); one thread per (head, block) of the slice.
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    context.kernel("moba_fwd", "moba_fwd_plan").launch(
        LaunchShape.of((pairs + threads - 1) / threads, threads), new KernelArgs()
            .ptr(l.entries()).ptr(l.offsets()).ptr(run).ptr(chunk).ptr(layout.cuSeqlens())
            .ptr(layout.cuBlocks(context, g.blockSize())).i32(g.sequences()).i32(g.totalBlocks())
            .i32(g.blockSize()).i32(h0).i32(hn).i32(ta).i32(tb));
    scan(chunk, chunkOff, pairs);
    return new Plan(run, chunkOff);
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
    runs.close();
    chunks.close();
    chunkOffsets.close();
    scanPartials.close();
  }
}
