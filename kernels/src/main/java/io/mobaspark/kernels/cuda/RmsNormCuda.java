package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code rmsnorm.cu}, one warp per row. x, out, dOut and dx {@code [T, C]} share one
 * dtype (bf16 or fp32); weight {@code [C]} is bf16 or fp32; rstd {@code [T]} and dWeight
 * {@code [C]} are fp32. The forward overwrites out and rstd; the backward <em>accumulates</em> into
 * both dx (the residual stream's gradient) and dWeight.
 *
 * <p>dWeight is reproducible bit for bit: each block writes the sum of its rows' terms into
 * partials {@code [blocks, C]}, and a second kernel adds those in block order, with a block count
 * that depends on T and C alone (no atomics).
 */
final class RmsNormCuda implements AutoCloseable {
  static final int WARPS = 8;
  /** Backward blocks at most: the partials stay {@code MAX_BLOCKS * C} floats (3 MiB at C = 768). */
  static final int MAX_BLOCKS = 1024;
  /** Each backward warp keeps a row of C fp32 dWeight sums in shared memory, under 48 KiB in all. */
  static final int SHARED_FLOATS = 12 * 1024;
  static final int MAX_CHANNELS = SHARED_FLOATS;

  private final CudaContext context;
  private final ScratchBuffer partials;

  RmsNormCuda(CudaContext context) {
    this.context = context;
    this.partials = new ScratchBuffer(context);
  }

  /** Checks the operands of the forward; returns {@code [T, C]}. */
  static int[] checkForward(Shape out, DType outType, Shape rstd, DType rstdType, Shape x, DType xType,
      Shape weight, double eps) {
    int[] rowsCols = rowsCols(x);
    out.require(rowsCols);
    rstd.require(rowsCols[0]);
    weight.require(rowsCols[1]);
    if (!(eps > 0)) {
      throw new IllegalArgumentException("RMSNorm eps must be positive, got " + eps);
    }
    PointwiseLaunch.requireSameDType(out, outType, x, xType, "RMSNorm output");
    PointwiseLaunch.requireF32(rstd, rstdType, "RMSNorm rstd");
    return rowsCols;
  }

  /** Checks the operands of the backward (dx, dOut like x; dWeight fp32); returns {@code [T, C]}. */
  static int[] checkBackward(Shape dx, DType dxType, Shape dWeight, DType dWeightType, Shape dOut,
      DType dOutType, Shape x, DType xType, Shape weight, Shape rstd, DType rstdType) {
    int[] rowsCols = rowsCols(x);
    dx.require(rowsCols);
    dOut.require(rowsCols);
    dWeight.require(rowsCols[1]);
    weight.require(rowsCols[1]);
    rstd.require(rowsCols[0]);
    PointwiseLaunch.requireSameDType(dx, dxType, x, xType, "RMSNorm dx, accumulated");
    PointwiseLaunch.requireSameDType(dOut, dOutType, x, xType, "RMSNorm dOut");
    PointwiseLaunch.requireF32(dWeight, dWeightType, "RMSNorm dWeight, accumulated");
    PointwiseLaunch.requireF32(rstd, rstdType, "RMSNorm rstd");
    return rowsCols;
  }

  private static int[] rowsCols(Shape x) {
    OpChecks.requireRank(x, 2);
    if (x.dim(1) > MAX_CHANNELS) {
      throw new IllegalArgumentException("tensor " + x + " has " + x.dim(1)
          + " channels: the CUDA RMSNorm supports at most " + MAX_CHANNELS);
    }
    return new int[] {x.dim(0), x.dim(1)};
  }

  void forward(CudaTensor out, CudaTensor rstd, CudaTensor x, CudaTensor weight, double eps) {
    int[] rc = checkForward(out.shape(), out.dtype(), rstd.shape(), rstd.dtype(), x.shape(), x.dtype(),
        weight.shape(), eps);
    if (rc[0] == 0) {
      return;
    }
    LaunchShape shape = LaunchShape.of((rc[0] + WARPS - 1) / WARPS, WARPS * 32);
    KernelArgs args = new KernelArgs().ptr(out.buffer()).ptr(rstd.buffer()).ptr(x.buffer())
        .ptr(weight.buffer()).i32(rc[0]);
    int heldPacks = heldPacks(x.dtype(), rc[1]);
    if (heldPacks > 0) {
      context.kernel("rmsnorm", "rmsnorm_forward_held_" + PointwiseLaunch.suffix(weight) + "_p"
          + heldPacks).launch(shape, args.f32((float) eps));
    } else {
      context.kernel("rmsnorm", name("rmsnorm_forward_", x, weight, rc[1])).launch(shape,
          args.i32(rc[1]).f32((float) eps));
    }
  }

  void backward(CudaTensor dx, CudaTensor dWeight, CudaTensor dOut, CudaTensor x, CudaTensor weight,
      CudaTensor rstd) {
    int[] rc = checkBackward(dx.shape(), dx.dtype(), dWeight.shape(), dWeight.dtype(), dOut.shape(),
        dOut.dtype(), x.shape(), x.dtype(), weight.shape(), rstd.shape(), rstd.dtype());
    int rows = rc[0];
    int cols = rc[1];
    if (rows == 0 || cols == 0) {
      return;
    }
    int warps = backwardWarps(cols);
    int blocks = backwardBlocks(rows, cols);
    DeviceBuffer partial = partials.atLeast(4L * blocks * cols);
    LaunchShape shape = new LaunchShape(blocks, 1, 1, warps * 32, 1, 1, 4 * warps * cols);
    KernelArgs args = new KernelArgs().ptr(dx.buffer()).ptr(partial).ptr(dOut.buffer())
        .ptr(x.buffer()).ptr(weight.buffer()).ptr(rstd.buffer()).i32(rows);
    int heldPacks = heldPacks(x.dtype(), cols);
    if (heldPacks > 0) {
      context.kernel("rmsnorm", "rmsnorm_backward_held_" + PointwiseLaunch.suffix(weight) + "_p"
          + heldPacks).launch(shape, args);
    } else {
      context.kernel("rmsnorm", name("rmsnorm_backward_", x, weight, cols)).launch(shape,
          args.i32(cols));
    }
    context.kernel("rmsnorm", "rmsnorm_dweight").launch(
        new LaunchShape((cols + 31) / 32, 1, 1, 32, 32, 1, 0),
        new KernelArgs().ptr(dWeight.buffer()).ptr(partial).i32(blocks).i32(cols));
  }

  /**
   * Packs of 8 channels per lane of rmsnorm_forward_held and rmsnorm_backward_held, which hold a
   * bf16 row of exactly {@code 256 P} channels in registers (P = 1 to 4: C = 256, 512, 768, 1024);
   * 0 where the general kernels run.
   */
  static int heldPacks(DType xType, int cols) {
    int packs = cols / (32 * 8);
    return xType == DType.BF16 && cols % (32 * 8) == 0 && packs >= 1 && packs <= 4 ? packs : 0;
  }

  /** Warps per backward block: {@value #WARPS}, fewer when their shared dWeight rows would not fit. */
  static int backwardWarps(int cols) {
    return Math.max(1, Math.min(WARPS, SHARED_FLOATS / Math.max(1, cols)));
  }

  /** Backward blocks: a row per warp up to {@value #MAX_BLOCKS} blocks; depends on T and C alone. */
  static int backwardBlocks(int rows, int cols) {
    int warps = backwardWarps(cols);
    return Math.max(1, Math.min(MAX_BLOCKS, (rows + warps - 1) / warps));
  }

  private static String name(String prefix, CudaTensor x, CudaTensor weight, int cols) {
    return prefix + PointwiseLaunch.suffix(x) + "_" + PointwiseLaunch.suffix(weight) + "_x"
        + PointwiseLaunch.pack(cols);
  }

  @Override
  public void close() {
    partials.close();
  }
}
