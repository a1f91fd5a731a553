package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Shape;

/**
 * Launcher of {@code cross_entropy.cu}: one block per row of logits {@code [T, V]} (bf16 or fp32)
 * computes the row's logsumexp online, its loss into losses {@code [T]} (fp32) and, when dLogits
 * {@code [T, V]} (bf16 or fp32) is given, {@code gradScale * (softmax - onehot)} into it
 * (overwritten; it may be logits itself). Target -1 gives loss 0 and a zero row; targets are not
 * read back to be checked, and any other target outside {@code [0, V)} gives a NaN loss and row.
 * Every row's reduction has one fixed order: the results repeat bit for bit.
 */
final class CrossEntropyCuda {
  static final int MAX_THREADS = 512;

  private final CudaContext context;

  CrossEntropyCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks the operands (dLogits may be null); returns {@code [T, V]}. */
  static int[] check(Shape losses, DType lossesType, Shape dLogits, Shape logits, Shape targets) {
    OpChecks.requireRank(logits, 2);
    int rows = logits.dim(0);
    int vocab = logits.dim(1);
    losses.require(rows);
    targets.require(rows);
    if (dLogits != null) {
      dLogits.require(rows, vocab);
    }
    PointwiseLaunch.requireF32(losses, lossesType, "cross-entropy losses");
    return new int[] {rows, vocab};
  }

  void run(CudaTensor losses, CudaTensor dLogits, CudaTensor logits, CudaIntTensor targets,
      double gradScale) {
    int[] rv = check(losses.shape(), losses.dtype(), dLogits == null ? null : dLogits.shape(),
        logits.shape(), targets.shape());
    if (rv[0] == 0) {
      return;
    }
    int pack = PointwiseLaunch.pack(rv[1]);
    String gradType = dLogits == null ? PointwiseLaunch.suffix(logits) : PointwiseLaunch.suffix(dLogits);
    KernelArgs args = new KernelArgs().ptr(losses.buffer());
    if (dLogits == null) {
      args.i64(0); // a null pointer: the kernel skips the gradient
    } else {
      args.ptr(dLogits.buffer());
    }
    context.kernel("cross_entropy", "cross_entropy_" + PointwiseLaunch.suffix(logits) + "_" + gradType
        + "_x" + pack).launch(LaunchShape.of(rv[0], threads(rv[1], pack)), args
            .ptr(logits.buffer()).ptr(targets.buffer()).i32(rv[1]).f32((float) gradScale));
  }

  /** Whole warps, one pack each, up to {@value #MAX_THREADS}: small vocabularies get small blocks. */
  static int threads(int vocab, int pack) {
    int packs = (vocab + pack - 1) / pack;
    return Math.max(32, Math.min(MAX_THREADS, (packs + 31) / 32 * 32));
  }
}
