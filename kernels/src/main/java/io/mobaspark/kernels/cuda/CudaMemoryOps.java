package io.mobaspark.kernels.cuda;

import java.util.List;

/**
 * Launchers of {@code memory.cu}: conversion, add, scale, sum of squares and the finiteness test on
 * bf16 or fp32 tensors. Every launch uses {@link #THREADS}-thread blocks and a grid that depends on
 * the element count alone, so the reductions add in the same order on every run and every GPU.
 */
final class CudaMemoryOps {
  static final int THREADS = 256;
  /** At most this many blocks; each thread then strides over several elements. */
  static final int MAX_BLOCKS = 1024;

  private final CudaContext context;
  // Kept for the backend's life: an allocation synchronizes the device.
  private final DeviceBuffer partials; // [MAX_BLOCKS] double
  private final DeviceBuffer flag; // [1] int
  /** sumsOfSquares' per-tensor results [tensors] double, grown to the largest call. */
  private final ScratchBuffer results;
  /** The grouped sumsOfSquares' chunk partials [chunks] double. */
  private final ScratchBuffer chunkPartials;
  /** The chunk tables of the grouped sumsOfSquares (a step's gradients) and copyAll (its weights). */
  private final TensorChunksCache squaresTable;
  private final TensorChunksCache copyTable;
  private final TensorChunksCache zeroTable;

  CudaMemoryOps(CudaContext context) {
    this.context = context;
    this.partials = context.allocate(8L * MAX_BLOCKS);
    this.flag = context.allocate(4);
    this.results = new ScratchBuffer(context);
    this.chunkPartials = new ScratchBuffer(context);
    this.squaresTable = new TensorChunksCache(context);
    this.copyTable = new TensorChunksCache(context);
    this.zeroTable = new TensorChunksCache(context);
  }

  /** Blocks of a grid-stride launch over {@code n} elements, four elements per thread at least. */
  static int blocks(long n) {
    long wanted = (n + 4L * THREADS - 1) / (4L * THREADS);
    return (int) Math.max(1, Math.min(MAX_BLOCKS, wanted));
  }

  /** dst = src, converting between dtypes; same element count. */
  void copy(CudaTensor dst, CudaTensor src) {
    long n = src.numel();
    if (dst.dtype() == src.dtype()) {
      dst.buffer().copyFrom(src.buffer(), n * src.dtype().bytes());
      return;
    }
    launch("convert_" + dst.dtype().kernelSuffix() + "_" + src.dtype().kernelSuffix(), n,
        new KernelArgs().ptr(dst.buffer()).ptr(src.buffer()).i64(n));
  }

  /**
   * {@link #copy} of every pair: fp32 sources into bf16 destinations (a model's compute copies of
   * its weights) in one launch over a {@link TensorChunks} table, other pairs one by one.
   */
  void copyAll(List<CudaTensor> dst, List<CudaTensor> src) {
    if (dst.size() != src.size()) {
      throw new IllegalArgumentException("copyAll needs as many sources as destinations, got "
          + src.size() + " and " + dst.size());
    }
    boolean rounding = dst.stream().allMatch(t -> t.dtype() == DType.BF16)
        && src.stream().allMatch(t -> t.dtype() == DType.F32);
    if (dst.size() < 2 || !rounding) {
      for (int i = 0; i < dst.size(); i++) {
        copy(dst.get(i), src.get(i));
      }
      return;
    }
    TensorChunks chunks = copyTable.of(List.of(dst, src));
    if (chunks.chunks() > 0) {
      context.kernel("memory", "convert_bf16_f32_chunks").launch(LaunchShape.of(chunks.chunks(), THREADS),
          new KernelArgs().ptr(chunks.addresses()).ptr(chunks.sizes()).ptr(chunks.chunkTensor())
              .ptr(chunks.chunkStart()).i64(TensorChunks.CHUNK));
    }
  }

  /** Zeroes every tensor: several fp32 ones (a step's gradients) in one launch, others one by one. */
  void zeroAll(List<CudaTensor> tensors) {
    if (tensors.size() < 2 || !tensors.stream().allMatch(t -> t.dtype() == DType.F32)) {
      tensors.forEach(t -> t.buffer().zero());
      return;
    }
    TensorChunks chunks = zeroTable.of(List.of(tensors));
    if (chunks.chunks() > 0) {
      context.kernel("memory", "zero_f32_chunks").launch(LaunchShape.of(chunks.chunks(), THREADS),
          new KernelArgs().ptr(chunks.addresses()).ptr(chunks.sizes()).ptr(chunks.chunkTensor())
              .ptr(chunks.chunkStart()).i64(TensorChunks.CHUNK));
    }
  }

  /** dst += src, summed in fp32 and rounded once to dst's dtype. */
  void add(CudaTensor dst, CudaTensor src) {
    long n = dst.numel();
    launch("add_" + dst.dtype().kernelSuffix() + "_" + src.dtype().kernelSuffix(), n,
        new KernelArgs().ptr(dst.buffer()).ptr(src.buffer()).i64(n));
  }

  void scale(CudaTensor t, double factor) {
    long n = t.numel();
    launch("scale_" + t.dtype().kernelSuffix(), n,
        new KernelArgs().ptr(t.buffer()).f64(factor).i64(n));
  }

  /** Sum of squares in double: per-block partials, then one block adds them in a fixed tree. */
  double sumOfSquares(CudaTensor t) {
    return sumsOfSquares(List.of(t))[0];
  }

  /**
   * sumOfSquares of each tensor with one device read: pass 1 and pass 2 of every tensor are queued on
   * the stream (which orders the reuse of the partials), pass 2 writing sum i into a results
   * buffer, read once at the end. Several fp32 tensors (a model's gradients) take two launches in
   * all over a {@link TensorChunks} table instead; their sums then add in chunk order, a fixed
   * order too, but not the single tensor's grid-stride one.
   */
  double[] sumsOfSquares(List<CudaTensor> tensors) {
    double[] sums = new double[tensors.size()];
    if (sums.length == 0) {
      return sums;
    }
    DeviceBuffer out = results.atLeast(8L * sums.length);
    if (sums.length > 1 && tensors.stream().allMatch(t -> t.dtype() == DType.F32)) {
      sumsOfSquaresByChunks(tensors, out);
      out.read(sums);
      return sums;
    }
    out.zero();
    for (int i = 0; i < sums.length; i++) {
      CudaTensor t = tensors.get(i);
      long n = t.numel();
      if (n == 0) {
        continue;
      }
      launch("sum_squares_" + t.dtype().kernelSuffix(), n,
          new KernelArgs().ptr(partials).ptr(t.buffer()).i64(n));
      context.kernel("memory", "sum_partials").launch(LaunchShape.of(1, 1024),
          new KernelArgs().ptr(out, 8L * i).ptr(partials).i32(blocks(n)));
    }
    out.read(sums); // the first sums.length entries
    return sums;
  }

  private void sumsOfSquaresByChunks(List<CudaTensor> tensors, DeviceBuffer out) {
    TensorChunks chunks = squaresTable.of(List.of(tensors));
    DeviceBuffer partial = chunkPartials.atLeast(8L * Math.max(1, chunks.chunks()));
    if (chunks.chunks() > 0) {
      context.kernel("memory", "sum_squares_chunks_f32").launch(LaunchShape.of(chunks.chunks(), THREADS),
          new KernelArgs().ptr(partial).ptr(chunks.addresses()).ptr(chunks.sizes())
              .ptr(chunks.chunkTensor()).ptr(chunks.chunkStart()).i64(TensorChunks.CHUNK));
    }
    context.kernel("memory", "sum_chunk_partials").launch(LaunchShape.of(tensors.size(), THREADS),
        new KernelArgs().ptr(out).ptr(partial).ptr(chunks.firstChunk()));
  }

  boolean allFinite(CudaTensor t) {
    long n = t.numel();
    flag.zero();
    launch("find_non_finite_" + t.dtype().kernelSuffix(), n,
        new KernelArgs().ptr(flag).ptr(t.buffer()).i64(n));
    int[] found = new int[1];
    flag.read(found);
    return found[0] == 0;
  }

  private void launch(String kernel, long n, KernelArgs args) {
    if (n == 0) {
      return;
    }
    context.kernel("memory", kernel).launch(LaunchShape.of(blocks(n), THREADS), args);
  }

  void close() {
    squaresTable.close();
    copyTable.close();
    zeroTable.close();
    chunkPartials.close();
    results.close();
    partials.close();
    flag.close();
  }
}
