package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.SeqLayout;

/**
 * One micro-batch as the model takes it. Each window of {@code seqLen + 1} tokens gives
 * {@code seqLen} inputs ({@code window[:-1]}) and the same number of next-token targets
 * ({@code window[1:]}).
 *
 * @param inputs  {@code [batch * seqLen]}
 * @param targets {@code [batch * seqLen]}
 * @param layout  one sequence per window, or split after each document separator
 */
public record TokenBatch(int[] inputs, int[] targets, SeqLayout layout) {

  /**
   * Splits sampled windows into inputs and targets.
   *
   * @param windows           {@code [batch, seqLen + 1]} row-major
   * @param documentSeparator the end-of-text id when attention must not cross documents, or -1;
   *     the split falls after the separator, so the separator stays the last input of its document
   *     and still predicts the first token of the next one (every target is counted)
   */
  public static TokenBatch fromWindows(int[] windows, int batch, int seqLen, int documentSeparator) {
    int window = seqLen + 1;
    if (batch < 1 || seqLen < 1 || windows.length != (long) batch * window) {
      throw new IllegalArgumentException("expected " + batch + " windows of seq_len + 1 = " + window
          + " tokens (" + (long) batch * window + " in all), got " + windows.length + " tokens");
    }
    int[] inputs = new int[batch * seqLen];
    int[] targets = new int[batch * seqLen];
    for (int b = 0; b < batch; b++) {
      System.arraycopy(windows, b * window, inputs, b * seqLen, seqLen);
      System.arraycopy(windows, b * window + 1, targets, b * seqLen, seqLen);
    }
    SeqLayout layout = documentSeparator < 0
        ? SeqLayout.uniform(batch, seqLen)
        : SeqLayout.splitAfter(inputs, batch, seqLen, documentSeparator);
    return new TokenBatch(inputs, targets, layout);
  }
}
