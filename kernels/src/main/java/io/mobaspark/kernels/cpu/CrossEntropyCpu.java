package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class CrossEntropyCpu {
  private CrossEntropyCpu() {}
  static void run(Parallel p, double[] losses, double[] dLogits, double[] logits, int[] targets, int rows, int vocab, double gradScale) { throw new UnsupportedOperationException("not implemented yet"); }
}
