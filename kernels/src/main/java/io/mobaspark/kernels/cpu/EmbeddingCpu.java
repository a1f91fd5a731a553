package io.mobaspark.kernels.cpu;

/** Token embedding: a row gather forward, a scatter-add backward. */
final class EmbeddingCpu {
  /** Tokens per forward task: one row copy is cheap, so batch enough rows to pay for a task. */
  private static final int TOKEN_GRAIN = 64;
  /** Channels per backward task; each task walks every token, so keep the slices wide. */
  private static final int CHANNEL_GRAIN = 64;

  private EmbeddingCpu() {}

  /** out {@code [T, C]} = table {@code [V, C]} rows picked by tokens {@code [T]}. */
  static void forward(Parallel p, double[] out, int[] tokens, double[] table, int tokenCount,
      int channels, int vocab) {
    TokenIds.requireInVocab("tokens", tokens, tokenCount, vocab);
    p.forRange(tokenCount, TOKEN_GRAIN, (t0, t1) -> {
      for (int t = t0; t < t1; t++) {
        System.arraycopy(table, tokens[t] * channels, out, t * channels, channels);
      }
    });
  }

  /**
   * dTable {@code [V, C]} += dOut {@code [T, C]} scattered by tokens. Repeated tokens hit the same
   * row, so tasks own channel slices rather than tokens: no two tasks write one element, and each
   * element sums its tokens in token order whatever the split.
   */
  static void backward(Parallel p, double[] dTable, double[] dOut, int[] tokens, int tokenCount,
      int channels, int vocab) {
    TokenIds.requireInVocab("tokens", tokens, tokenCount, vocab);
    p.forRange(channels, CHANNEL_GRAIN, (c0, c1) -> {
      for (int t = 0; t < tokenCount; t++) {
        int row = tokens[t] * channels;
        int src = t * channels;
        for (int c = c0; c < c1; c++) {
          dTable[row + c] += dOut[src + c];
        }
      }
    });
  }
}
