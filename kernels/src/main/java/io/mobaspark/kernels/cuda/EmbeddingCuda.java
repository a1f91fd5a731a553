package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.OpChecks;
import io.mobaspark.kernels.Shape;

/**
 * Launchers of {@code embedding.cu}: out {@code [T, C]} (bf16 or fp32) = rows of table
 * {@code [V, C]} (bf16 or fp32) picked by tokens {@code [T]}; dTable fp32 {@code [V, C]}
 * <em>accumulates</em> dOut {@code [T, C]} (bf16 or fp32) scattered by tokens.
 *
 * <p>The backward adds with fp32 atomics, so where a token repeats in the batch its row's sum can
 * differ between runs in the last bits (like MoBA's dQ); a deterministic scatter would need a sort
 * of the tokens. Token ids are not read back to be checked (that would stall the stream): an id
 * outside {@code [0, V)} gives a NaN output row, which the trainer's finiteness check catches, and
 * adds nothing in the backward.
 */
final class EmbeddingCuda {
  private final CudaContext context;

  EmbeddingCuda(CudaContext context) {
    this.context = context;
  }

  /** Checks rows {@code [T, C]} against tokens {@code [T]} and table {@code [V, C]}; returns T. */
  static int check(Shape rows, Shape tokens, Shape table) {
    OpChecks.requireRank(table, 2);
    int tokenCount = (int) tokens.numel();
    rows.require(tokenCount, table.dim(1));
    return tokenCount;
  }

  void forward(CudaTensor out, CudaIntTensor tokens, CudaTensor table) {
    int tokenCount = check(out.shape(), tokens.shape(), table.shape());
    launch("embedding_forward_" + PointwiseLaunch.suffix(out) + "_" + PointwiseLaunch.suffix(table),
        tokenCount, table.dim(1), new KernelArgs().ptr(out.buffer()).ptr(tokens.buffer())
            .ptr(table.buffer()).i64(tokenCount).i32(table.dim(1)).i32(table.dim(0)));
  }

  /** Checks the backward's operands, dTable fp32 among them; returns T. */
  static int checkBackward(Shape dTable, DType dTableType, Shape dOut, Shape tokens) {
    int tokenCount = check(dOut, tokens, dTable);
    PointwiseLaunch.requireF32(dTable, dTableType, "embedding dTable, accumulated");
    return tokenCount;
  }

  void backward(CudaTensor dTable, CudaTensor dOut, CudaIntTensor tokens) {
    int tokenCount = checkBackward(dTable.shape(), dTable.dtype(), dOut.shape(), tokens.shape());
    launch("embedding_backward_" + PointwiseLaunch.suffix(dOut), tokenCount, dTable.dim(1),
        new KernelArgs().ptr(dTable.buffer()).ptr(dOut.buffer()).ptr(tokens.buffer())
            .i64(tokenCount).i32(dTable.dim(1)).i32(dTable.dim(0)));
  }

  /** One thread per pack of channels of one token. */
  private void launch(String kernel, int tokenCount, int channels, KernelArgs args) {
    int pack = PointwiseLaunch.pack(channels);
    long work = (long) tokenCount * (channels / pack);
    if (work > 0) {
      context.kernel("embedding", kernel + "_x" + pack).launch(PointwiseLaunch.grid(work), args);
    }
  }
}
