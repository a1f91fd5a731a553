package io.mobaspark.kernels;

/**
 * The static shape of one attention layer. Q is {@code [T, heads, headDim]}, K and V are
 * {@code [T, kvHeads, headDim]} (GQA: query head {@code h} reads KV head {@code h / (heads/kvHeads)}),
 * O is {@code [T, heads, headDim]}, LSE is {@code [heads, T]} (natural log of the softmax
 * denominator of the scaled scores). Scores are scaled by {@code 1/sqrt(headDim)}.
 *
 * @param window     SLIDING only: keys with {@code pos - window < keyPos <= pos}
 * @param blockSize  MOBA only: key block size B
 * @param topk       MOBA only: blocks per query, counting the query's own block
 */
public record AttentionConfig(
    AttentionKind kind, int heads, int kvHeads, int headDim, int window, int blockSize, int topk) {

  public AttentionConfig {
    if (kind == null) {
      throw new IllegalArgumentException("attention kind must be given");
    }
    requirePositive("heads", heads);
    requirePositive("kv_heads", kvHeads);
    requirePositive("head_dim", headDim);
    if (heads % kvHeads != 0) {
      throw new IllegalArgumentException(
          "heads (" + heads + ") must be a multiple of kv_heads (" + kvHeads + ")");
    }
    if (kind == AttentionKind.SLIDING) {
      requirePositive("window", window);
    }
    if (kind == AttentionKind.MOBA) {
      requirePositive("block_size", blockSize);
      requirePositive("topk", topk);
    }
  }

  public static AttentionConfig dense(int heads, int kvHeads, int headDim) {
    return new AttentionConfig(AttentionKind.DENSE, heads, kvHeads, headDim, 0, 0, 0);
  }

  public static AttentionConfig sliding(int heads, int kvHeads, int headDim, int window) {
    return new AttentionConfig(AttentionKind.SLIDING, heads, kvHeads, headDim, window, 0, 0);
  }

  public static AttentionConfig moba(int heads, int kvHeads, int headDim, int blockSize, int topk) {
    return new AttentionConfig(AttentionKind.MOBA, heads, kvHeads, headDim, 0, blockSize, topk);
  }

  /** Query heads that share one KV head. */
  public int groupSize() {
    return heads / kvHeads;
  }

  public double scale() {
    return 1.0 / Math.sqrt(headDim);
  }

  private static void requirePositive(String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(key + " must be positive, got " + value);
    }
  }
}
