package io.mobaspark.kernels.cpu;

import java.util.Arrays;

/**
 * Softmax cross-entropy per token, with its gradient computed in the same pass over each row so the
 * {@code [T, V]} logits, the largest activation, are not read a second time by a separate backward.
 * A target of {@link TokenIds#IGNORE} contributes neither loss nor gradient (padding, or the
 * position after a document's last token).
 */
final class CrossEntropyCpu {
  /** Logits per task: small rows are grouped up to this many; a task holds at least one row. */
  private static final int ELEMENT_GRAIN = 1 << 14;

  private CrossEntropyCpu() {}

  /**
   * losses {@code [T]} = logsumexp(logits[t]) - logits[t, targets[t]]; dLogits {@code [T, V]}
   * (overwritten, may be null) = gradScale * (softmax(logits[t]) - onehot(targets[t])).
   */
  static void run(Parallel p, double[] losses, double[] dLogits, double[] logits, int[] targets,
      int rows, int vocab, double gradScale) {
    TokenIds.requireInVocabOrIgnored("targets", targets, rows, vocab);
    int rowGrain = Math.max(1, ELEMENT_GRAIN / Math.max(1, vocab));
    p.forRange(rows, rowGrain, (r0, r1) -> {
      for (int r = r0; r < r1; r++) {
        int base = r * vocab;
        int target = targets[r];
        if (target == TokenIds.IGNORE) {
          losses[r] = 0;
          if (dLogits != null) {
            Arrays.fill(dLogits, base, base + vocab, 0.0);
          }
          continue;
        }
        double lse = logSumExp(logits, base, vocab);
        losses[r] = lse - logits[base + target];
        if (dLogits != null) {
          for (int v = 0; v < vocab; v++) {
            dLogits[base + v] = gradScale * Math.exp(logits[base + v] - lse);
          }
          dLogits[base + target] -= gradScale;
        }
      }
    });
  }

  /** log(sum(exp(x))) over {@code x[base, base + n)}, shifted by the maximum so exp cannot overflow. */
  private static double logSumExp(double[] x, int base, int n) {
    double max = Double.NEGATIVE_INFINITY;
    for (int i = base; i < base + n; i++) {
      max = Math.max(max, x[i]);
    }
    double sum = 0;
    for (int i = base; i < base + n; i++) {
      sum += Math.exp(x[i] - max);
    }
    return max + Math.log(sum);
  }
}
