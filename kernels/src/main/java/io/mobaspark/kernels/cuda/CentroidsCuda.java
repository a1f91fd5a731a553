package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;

/**
 * Launcher of {@code centroids.cu}: the MoBA block centroids (BlockCentroids defines them), fp32
 * {@code [blocks, Hkv, D]} from bf16 keys {@code [T, Hkv, D]}, blocks numbered across the packed
 * batch ({@link DeviceLayout#blockOffsets}).
 */
final class CentroidsCuda {
  static final int THREADS = 128;

  private final CudaContext context;

  CentroidsCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks the operands; returns the number of global blocks. */
  static int check(Shape out, DType outType, Shape k, DType kType, int blockSize, SeqLayout layout) {
    if (blockSize <= 0) {
      throw new IllegalArgumentException("block_size must be positive, got " + blockSize);
    }
    if (k.rank() != 3) {
      throw new IllegalArgumentException("tensor " + k + " must have rank 3 [T, Hkv, D]");
    }
    layout.requireTokens(k.dim(0), "tensor " + k);
    int blocks = DeviceLayout.blockOffsets(layout, blockSize)[layout.sequences()];
    out.require(blocks, k.dim(1), k.dim(2));
    KernelChecks.requireDType(k, kType, DType.BF16, "keys");
    KernelChecks.requireDType(out, outType, DType.F32, "centroids");
    return blocks;
  }

  void compute(CudaTensor out, CudaTensor k, int blockSize, DeviceLayout layout) {
    int blocks = check(out.shape(), out.dtype(), k.shape(), k.dtype(), blockSize, layout.layout());
    launch(out.buffer(), k, blocks, blockSize, layout);
  }

  /** The launch alone, into {@code out} with room for fp32 {@code [blocks, Hkv, D]}: the router's workspace. */
  void launch(DeviceBuffer out, CudaTensor k, int blocks, int blockSize, DeviceLayout layout) {
    int channels = k.dim(1) * k.dim(2);
    context.kernel("centroids", "block_centroids").launch(
        LaunchShape.of(blocks, (channels + THREADS - 1) / THREADS, THREADS), new KernelArgs()
            .ptr(out).ptr(k.buffer()).ptr(layout.cuSeqlens())
            .ptr(layout.cuBlocks(context, blockSize)).i32(layout.layout().sequences())
            .i32(channels).i32(blockSize));
  }
}
