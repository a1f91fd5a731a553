package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code rope.cu}: the rotate-half rotation of x {@code [T, heads, D]} into out (both
 * bf16 or both fp32, overwritten; out may be x), forward or transposed. One thread per token and
 * pack of pairs computes the angles once, in double, and rotates that pack in every head.
 * Positions are not read back to be checked: a negative one rotates backwards instead of failing
 * as on the CPU.
 */
final class RopeCuda {
  private final CudaContext context;

  RopeCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks the operands; returns {@code [T, D]}. */
  static int[] check(Shape out, DType outType, Shape in, DType inType, Shape positions, int heads,
      double theta) {
    OpChecks.requireRank(in, 3);
    int tokens = in.dim(0);
    int headDim = in.dim(2);
    in.require(tokens, heads, headDim);
    out.require(tokens, heads, headDim);
    positions.require(tokens);
    if (headDim % 2 != 0) {
      throw new IllegalArgumentException("RoPE needs an even head dim, got " + in);
    }
    if (!(theta > 0) || Double.isInfinite(theta)) {
      throw new IllegalArgumentException("RoPE theta must be positive and finite, got " + theta);
    }
    PointwiseLaunch.requireSameDType(out, outType, in, inType, "RoPE output");
    return new int[] {tokens, headDim};
  }

  /** {@code direction} +1 rotates (forward), -1 rotates back (the backward). */
  void rotate(CudaTensor out, CudaTensor in, CudaIntTensor positions, int heads, double theta,
      int direction) {
    int[] td = check(out.shape(), out.dtype(), in.shape(), in.dtype(), positions.shape(), heads, theta);
    int half = td[1] / 2;
    int pack = PointwiseLaunch.pack(half);
    long work = (long) td[0] * (half / pack);
    if (work == 0 || heads == 0) {
      return;
    }
    context.kernel("rope", "rope_" + PointwiseLaunch.suffix(in) + "_x" + pack).launch(
        PointwiseLaunch.grid(work), new KernelArgs().ptr(out.buffer()).ptr(in.buffer())
            .ptr(positions.buffer()).i64(td[0]).i32(heads).i32(td[1])
            .f64(Math.log(theta) / Math.log(2)).f32(direction));
  }
}
