package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;

/**
 * {@code mobaRoute} on the GPU (docs/moba-cuda.md, "Router"): block centroids (centroids.cu), their
 * split into bf16 hi + lo halves, and the fused tiled top-k (moba_router.cu), which writes the
 * routing table {@code [H, T, topk]} directly in the Backend's layout (ascending blocks relative to
 * the sequence start, the own block last, -1 for empty slots), so no conversion pass follows.
 * Three launches, no host sync.
 */
final class MobaRouterCuda implements AutoCloseable {
  private final CudaContext context;
  private final CentroidsCuda centroids;
  private final ScratchBuffer centroidValues; // [NB, Hkv, D] fp32
  private final ScratchBuffer centroidHi; // [NB, Hkv, D] bf16, bf16(c)
  private final ScratchBuffer centroidLo; // [NB, Hkv, D] bf16, bf16(c - hi)

  MobaRouterCuda(CudaContext context, CentroidsCuda centroids) {
    this.context = context;
    this.centroids = centroids;
    this.centroidValues = new ScratchBuffer(context);
    this.centroidHi = new ScratchBuffer(context);
    this.centroidLo = new ScratchBuffer(context);
  }

  void route(CudaIntTensor routing, CudaTensor q, CudaTensor k, AttentionConfig config,
      DeviceLayout layout) {
    MobaGeometry g = MobaChecks.route(routing.shape(), MobaChecks.Operand.of(q),
        MobaChecks.Operand.of(k), config, layout.layout(), context.device().sharedPerBlockOptIn());
    int values = g.totalBlocks() * g.kvHeads() * g.dim(); // even: D is 64 or 128
    DeviceBuffer fp32 = centroidValues.atLeast(4L * values);
    DeviceBuffer hi = centroidHi.atLeast(2L * values);
    DeviceBuffer lo = centroidLo.atLeast(2L * values);
    centroids.launch(fp32, k, g.totalBlocks(), g.blockSize(), layout);

    // moba_router.cu: moba_centroid_split(const float* centroids, bf16* hi, bf16* lo, int n),
    // one thread per pair of values.
    int pairs = values / 2;
    int threads = MobaKernelShapes.ELEMENTWISE_THREADS;
    context.kernel("moba_router", "moba_centroid_split").launch(
        LaunchShape.of((pairs + threads - 1) / threads, threads),
        new KernelArgs().ptr(fp32).ptr(hi).ptr(lo).i32(values));

    // moba_router.cu: moba_route_d{64,128}(q, cen_hi, cen_lo, routing, cu_seqlens, cu_blocks,
    // cu_qtiles, seqs, tokens, heads, kv_heads, block_size, topk); grid (query tiles, H),
    // RouteSmem<D>::bytes(topk) of shared memory.
    LaunchShape shape = new LaunchShape(g.queryTiles(), g.heads(), 1, MobaKernelShapes.THREADS, 1, 1,
        MobaKernelShapes.routeShared(g.dim(), g.topk()));
    context.kernel("moba_router", "moba_route_d" + g.dim()).launch(shape, new KernelArgs()
        .ptr(q.buffer()).ptr(hi).ptr(lo).ptr(routing.buffer()).ptr(layout.cuSeqlens())
        .ptr(layout.cuBlocks(context, g.blockSize())).ptr(layout.cuQtiles(context))
        .i32(g.sequences()).i32(g.tokens()).i32(g.heads()).i32(g.kvHeads()).i32(g.blockSize())
        .i32(g.topk()));
  }

  @Override
  public void close() {
    centroidValues.close();
    centroidHi.close();
    centroidLo.close();
  }
}
