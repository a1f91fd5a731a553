package io.mobaspark.kernels.cuda;

/**
 * Runs products whose operand rows are not 16-byte aligned on the wgmma kernel instead of the
 * 4-6 times slower mma.sync fallback (docs/gemm-cuda.md, "Misaligned rows"). The misaligned operand
 * is copied a chunk at a time into rows padded with zeros to a multiple of 8 bf16 ({@code
 * gemm_align.cu}); zeros add nothing to the products, so the result is the product's. Two shapes are
 * handled, the two backward products of an LM head over an odd vocabulary (V = 50257):
 * <ul>
 *   <li>{@link Case#PAD_K}: a {@code [M, K]} not transposed with K misaligned (input gradient
 *       {@code dLogits[T, V] @ W[V, C]}): b is padded along K once, a one chunk of M rows at a time,
 *       each chunk's product written straight into its rows of out.
 *   <li>{@link Case#PAD_M}: a {@code [K, M]} transposed with M misaligned (weight gradient
 *       {@code dLogits^T x}): a is padded one chunk of K rows at a time, the chunks' products summed
 *       into an fp32 {@code [Mp, N]} scratch in chunk order, whose first M rows then go into out.
 * </ul>
 * A chunk of padded operand holds at most {@link #CHUNK_ELEMENTS}, so the extra memory stays near
 * 0.5 GiB whatever T is; the chunk sizes depend on the shape alone, so a shape always sums the same
 * way. Below {@link #MIN_FLOPS} the fallback kernel's time is too short for the copies to pay. The
 * labs lower both ({@link #configure}) to test many chunks on small products.
 */
public final class GemmAlignment implements AutoCloseable {
  /** Elements of a padded row's multiple: 8 bf16 = 16 bytes, the wgmma kernel's row rule. */
  static final int ALIGN = 8;
  /** Padded operand elements per chunk (512 MiB of bf16). */
  public static final long CHUNK_ELEMENTS = 1L << 28;
  public static final double MIN_FLOPS = 1e10;
  private static final int THREADS = 256;

  /** Which operand gets padded; public for the labs' labels. */
  public enum Case {
    NONE,
    PAD_K,
    PAD_M
  }

  /** A product on raw buffers (byte offsets): GemmCuda's launch for an aligned shape. */
  interface Product {
    void run(DeviceBuffer out, long outOffset, DType outType, DeviceBuffer a, long aOffset,
        DeviceBuffer b, long bOffset, int m, int n, int k, boolean transA, boolean transB,
        boolean accumulate);
  }

  private final CudaContext context;
  private long chunkElements = CHUNK_ELEMENTS;
  private double minFlops = MIN_FLOPS;
  private final ScratchBuffer paddedA; // a chunk of the padded a, bf16
  private final ScratchBuffer paddedB; // the padded b, bf16
  private final ScratchBuffer paddedOut; // PAD_M's fp32 [Mp, N]

  GemmAlignment(CudaContext context) {
    this.context = context;
    this.paddedA = new ScratchBuffer(context);
    this.paddedB = new ScratchBuffer(context);
    this.paddedOut = new ScratchBuffer(context);
  }

  /** Chunk size and size threshold; the defaults are {@link #CHUNK_ELEMENTS} and {@link #MIN_FLOPS}. */
  void configure(long chunkElements, double minFlops) {
    if (chunkElements < 1 || !(minFlops >= 0)) {
      throw new IllegalArgumentException("GEMM padding needs chunkElements >= 1 and minFlops >= 0, got "
          + chunkElements + " and " + minFlops);
    }
    this.chunkElements = chunkElements;
    this.minFlops = minFlops;
  }

  /** {@link #plan(int, int, int, boolean, boolean, boolean, double)} at this instance's threshold. */
  Case plan(int m, int n, int k, boolean transA, boolean transB, boolean wgmmaLoaded) {
    return plan(m, n, k, transA, transB, wgmmaLoaded, minFlops);
  }

  /** Which padding, if any, puts an {@code M x N x K} product on the wgmma kernel. */
  public static Case plan(int m, int n, int k, boolean transA, boolean transB, boolean wgmmaLoaded,
      double minFlops) {
    if (!wgmmaLoaded || GemmCuda.rowsAligned(m, n, k, transA, transB) || 2.0 * m * n * k < minFlops) {
      return Case.NONE;
    }
    if (!transA && k % ALIGN != 0 && (transB || n % ALIGN == 0)) {
      return Case.PAD_K;
    }
    if (transA && m % ALIGN != 0 && !transB && n % ALIGN == 0) {
      return Case.PAD_M;
    }
    return Case.NONE;
  }

  static int padded(int x) {
    return (x + ALIGN - 1) / ALIGN * ALIGN;
  }

  /**
   * Rows per chunk of a padded operand of {@code paddedWidth} columns: as many as {@code chunkElements}
   * allow, a multiple of {@code granule}, at least one granule, at most {@code total}.
   */
  static int chunkRows(long chunkElements, int paddedWidth, int granule, int total) {
    long rows = Math.max(granule, chunkElements / paddedWidth / granule * granule);
    return (int) Math.min(rows, total);
  }

  void run(Case c, Product product, CudaTensor out, CudaTensor a, CudaTensor b, int m, int n, int k,
      boolean transA, boolean transB, boolean accumulate) {
    switch (c) {
      case PAD_K -> padK(product, out, a, b, m, n, k, transB, accumulate);
      case PAD_M -> padM(product, out, a, b, m, n, k, accumulate);
      case NONE -> throw new IllegalStateException("no padding planned for " + m + "x" + n + "x" + k);
    }
  }

  /** a [M, K] -> chunks [rows, Kp]; b [N, K] -> [N, Kp] (transB) or [K, N] -> [Kp, N]. */
  private void padK(Product product, CudaTensor out, CudaTensor a, CudaTensor b, int m, int n, int k,
      boolean transB, boolean accumulate) {
    int kp = padded(k);
    DeviceBuffer b2 = paddedB.atLeast(2L * n * kp);
    if (transB) {
      pad(b2, b.buffer(), 0, n, kp, n, k, k);
    } else {
      pad(b2, b.buffer(), 0, kp, n, k, n, n);
    }
    int chunk = chunkRows(chunkElements, kp, GemmCuda.Family.WGMMA.tileM, m);
    DeviceBuffer a2 = paddedA.atLeast(2L * chunk * kp);
    long outRow = (long) n * out.dtype().bytes();
    for (int m0 = 0; m0 < m; m0 += chunk) {
      int rows = Math.min(chunk, m - m0);
      pad(a2, a.buffer(), (long) m0 * k, rows, kp, rows, k, k);
      product.run(out.buffer(), m0 * outRow, out.dtype(), a2, 0, b2, 0, rows, n, kp, false, transB,
          accumulate);
    }
  }

  /** a [K, M] -> chunks [rows, Mp] summed into fp32 scratch [Mp, N]; its first M rows -> out. */
  private void padM(Product product, CudaTensor out, CudaTensor a, CudaTensor b, int m, int n, int k,
      boolean accumulate) {
    int mp = padded(m);
    int chunk = chunkRows(chunkElements, mp, GemmCuda.SPLIT_GRANULE, k);
    DeviceBuffer a2 = paddedA.atLeast(2L * chunk * mp);
    DeviceBuffer scratch = paddedOut.atLeast(4L * mp * n);
    for (int k0 = 0; k0 < k; k0 += chunk) {
      int rows = Math.min(chunk, k - k0);
      pad(a2, a.buffer(), (long) k0 * m, rows, mp, rows, m, m);
      product.run(scratch, 0, DType.F32, a2, 0, b.buffer(), 2L * k0 * n, mp, n, rows, true, false,
          k0 > 0);
    }
    long total = (long) m * n;
    context.kernel("gemm_align", "gemm_unpad_f32").launch(
        LaunchShape.of(blocks(total), THREADS),
        new KernelArgs().ptr(out.buffer()).ptr(scratch).i64(m).i32(n).i32(n)
            .i32(out.dtype() == DType.F32 ? 1 : 0).i32(accumulate ? 1 : 0));
  }

  /** dst [dstRows, dstLd] = src (from element srcStart) [rows, cols] with pitch srcLd, zero-padded. */
  private void pad(DeviceBuffer dst, DeviceBuffer src, long srcStart, long dstRows, int dstLd,
      long rows, int cols, long srcLd) {
    long packs = dstRows * (dstLd / ALIGN);
    context.kernel("gemm_align", "gemm_pad_bf16").launch(LaunchShape.of(blocks(packs), THREADS),
        new KernelArgs().ptr(dst).ptr(src, 2 * srcStart).i64(dstRows).i32(dstLd).i64(rows).i32(cols)
            .i64(srcLd));
  }

  private long blocks(long work) {
    return Math.max(1, Math.min((work + THREADS - 1) / THREADS,
        16L * context.device().multiprocessors()));
  }

  @Override
  public void close() {
    paddedA.close();
    paddedB.close();
    paddedOut.close();
  }
}
