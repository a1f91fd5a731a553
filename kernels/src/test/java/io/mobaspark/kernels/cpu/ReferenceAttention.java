package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

/**
 * A deliberately naive attention forward for tests: every query scores every key of its sequence
 * and masks with a predicate written straight from docs/moba.md, independent of the production
 * {@code KeySpans}. O(n^2) per sequence; small problems only.
 */
final class ReferenceAttention {
  private ReferenceAttention() {}

  static AttentionProblem.Forward forward(AttentionProblem p) {
    AttentionConfig c = p.config;
    SeqLayout layout = p.layout;
    int tokens = p.tokens();
    int dim = c.headDim();
    double[] out = new double[tokens * c.heads() * dim];
    double[] lse = new double[c.heads() * tokens];
    for (int s = 0; s < layout.sequences(); s++) {
      int start = layout.start(s);
      int n = layout.length(s);
      for (int h = 0; h < c.heads(); h++) {
        int g = h / c.groupSize();
        for (int i = 0; i < n; i++) {
          double[] scores = new double[n];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < n; j++) {
            scores[j] = Double.NEGATIVE_INFINITY;
            if (allowed(p, h, start, i, j)) {
              double dot = 0;
              for (int d = 0; d < dim; d++) {
                dot += p.q[((start + i) * c.heads() + h) * dim + d]
                    * p.k[((start + j) * c.kvHeads() + g) * dim + d];
              }
              scores[j] = dot * c.scale();
              max = Math.max(max, scores[j]);
            }
          }
          double sum = 0;
          for (int j = 0; j < n; j++) {
            sum += Math.exp(scores[j] - max);
          }
          for (int j = 0; j < n; j++) {
            double prob = Math.exp(scores[j] - max) / sum;
            for (int d = 0; d < dim; d++) {
              out[((start + i) * c.heads() + h) * dim + d] +=
                  prob * p.v[((start + j) * c.kvHeads() + g) * dim + d];
            }
          }
          lse[h * tokens + start + i] = max + Math.log(sum);
        }
      }
    }
    return new AttentionProblem.Forward(out, lse);
  }

  /** May query position {@code i} of head {@code h} see key position {@code j} (same sequence)? */
  static boolean allowed(AttentionProblem p, int h, int start, int i, int j) {
    AttentionConfig c = p.config;
    return switch (c.kind()) {
      case DENSE -> j <= i;
      case SLIDING -> i - c.window() < j && j <= i;
      case MOBA -> {
        int keyBlock = j / c.blockSize();
        int ownBlock = i / c.blockSize();
        boolean routed = false;
        for (int slot = 0; slot < c.topk(); slot++) {
          routed |= p.routing[(h * p.tokens() + start + i) * c.topk() + slot] == keyBlock;
        }
        yield routed && (keyBlock < ownBlock || (keyBlock == ownBlock && j <= i));
      }
    };
  }
}
