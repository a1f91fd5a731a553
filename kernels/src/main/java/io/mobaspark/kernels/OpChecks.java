package io.mobaspark.kernels;

/**
 * Operand validation shared by every backend, so that a bad shape fails the same way, with the
 * tensor's name and shape, on CPU and GPU, before any memory is touched.
 */
public final class OpChecks {
  private OpChecks() {}

  /** The {@code [M, N, K]} of {@link Backend#matmul}, after checking that the operands agree. */
  public static int[] matmul(Shape out, Shape a, Shape b, boolean transA, boolean transB) {
    requireRank(out, 2);
    requireRank(a, 2);
    requireRank(b, 2);
    int m = transA ? a.dim(1) : a.dim(0);
    int k = transA ? a.dim(0) : a.dim(1);
    int kb = transB ? b.dim(1) : b.dim(0);
    int n = transB ? b.dim(0) : b.dim(1);
    if (k != kb) {
      throw new IllegalArgumentException("matmul inner dimensions differ: " + a + (transA ? "^T" : "")
          + " @ " + b + (transB ? "^T" : "") + " (" + k + " vs " + kb + ")");
    }
    out.require(m, n);
    return new int[] {m, n, k};
  }

  /** Checks {@code rows x cols} activations: {@code [T, C]}. */
  public static void rows(Shape t, int rows, int cols) {
    t.require(rows, cols);
  }

  public static void requireRank(Shape s, int rank) {
    if (s.rank() != rank) {
      throw new IllegalArgumentException("tensor " + s + " must have rank " + rank);
    }
  }

  public static void sameNumel(Shape a, Shape b) {
    if (a.numel() != b.numel()) {
      throw new IllegalArgumentException(
          "tensors " + a + " and " + b + " must hold the same number of elements");
    }
  }

  /** Checks q {@code [T, H, D]}, k and v {@code [T, Hkv, D]} against the config and layout. */
  public static int attentionTokens(Shape q, Shape k, Shape v, AttentionConfig c, SeqLayout layout) {
    requireRank(q, 3);
    int tokens = q.dim(0);
    q.require(tokens, c.heads(), c.headDim());
    k.require(tokens, c.kvHeads(), c.headDim());
    v.require(tokens, c.kvHeads(), c.headDim());
    layout.requireTokens(tokens, "tensor " + q);
    return tokens;
  }

  /** Checks a routing table {@code [H, T, topk]} for MOBA, or its absence otherwise. */
  public static void routing(Shape routing, AttentionConfig c, int tokens) {
    if (c.kind() == AttentionKind.MOBA) {
      if (routing == null) {
        throw new IllegalArgumentException("MOBA attention needs a routing tensor from mobaRoute");
      }
      routing.require(c.heads(), tokens, c.topk());
    } else if (routing != null) {
      throw new IllegalArgumentException(
          c.kind() + " attention takes no routing tensor, got " + routing);
    }
  }

  /** kconv weight {@code [Hkv, W, D]} with W = 3 or 5 (FlashMoBA App. C); returns W. */
  public static int keyConvWidth(Shape weight, Shape k) {
    requireRank(k, 3);
    requireRank(weight, 3);
    int width = weight.dim(1);
    if (width < 1) {
      throw new IllegalArgumentException("kconv weight " + weight + " has width " + width);
    }
    weight.require(k.dim(1), width, k.dim(2));
    return width;
  }
}
