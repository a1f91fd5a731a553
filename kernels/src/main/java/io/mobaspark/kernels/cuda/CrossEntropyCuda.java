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
 *
 * <p>With a gradient, rows of whole 16-byte chunks that fit in shared memory are staged there, so
 * each logit leaves DRAM once (H200, [65536, 50304] bf16: 3.40 ms against 4.59 reading the row
 * twice); other rows are read twice from global memory. Losses alone read each row once either
 * way, and faster unstaged (1.51 ms against 1.87: more rows in flight per SM). Both kernels compute
 * the same packs in the same order, so which one runs does not change a bit of the results.
 */
final class CrossEntropyCuda {
  static final int MAX_THREADS = 512;
  /** Shared memory left beside a staged row for the kernel's static arrays (272 bytes) and slack. */
  static final int STATIC_SHARED_BYTES = 1024;

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
    int vocab = rv[1];
    int pack = PointwiseLaunch.pack(vocab);
    int stagedBytes = dLogits == null ? 0
        : stagedBytes(vocab, logits.dtype(), context.device().sharedPerBlockOptIn());
    String types = PointwiseLaunch.suffix(logits) + "_"
        + (dLogits == null ? PointwiseLaunch.suffix(logits) : PointwiseLaunch.suffix(dLogits));
    KernelArgs args = new KernelArgs().ptr(losses.buffer());
    if (dLogits == null) {
      args.i64(0); // a null pointer: the kernel skips the gradient
    } else {
      args.ptr(dLogits.buffer());
    }
    String kernel = stagedBytes > 0 ? "cross_entropy_staged_" + types : "cross_entropy_" + types + "_x" + pack;
    LaunchShape shape = new LaunchShape(rv[0], 1, 1, threads(vocab, pack), 1, 1, stagedBytes);
    context.kernel("cross_entropy", kernel).launch(shape, args
        .ptr(logits.buffer()).ptr(targets.buffer()).i32(vocab).f32((float) gradScale));
  }

  /**
   * Dynamic shared bytes of the staged kernel for rows of {@code vocab} logits, or 0 where the row
   * must stay in global memory: its length is no multiple of 8 (the copies move 16 aligned bytes),
   * or it does not fit in {@code sharedPerBlockOptIn} beside the kernel's static arrays.
   */
  static int stagedBytes(int vocab, DType logitsType, int sharedPerBlockOptIn) {
    long rowBytes = (long) vocab * logitsType.bytes();
    boolean fits = rowBytes <= sharedPerBlockOptIn - STATIC_SHARED_BYTES;
    return PointwiseLaunch.pack(vocab) == 8 && fits ? (int) rowBytes : 0;
  }

  /** Whole warps, one pack each, up to {@value #MAX_THREADS}: small vocabularies get small blocks. */
  static int threads(int vocab, int pack) {
    int packs = (vocab + pack - 1) / pack;
    return Math.max(32, Math.min(MAX_THREADS, (packs + 31) / 32 * 32));
  }
}
