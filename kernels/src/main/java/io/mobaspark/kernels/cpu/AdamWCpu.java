package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class AdamWCpu {
  private AdamWCpu() {}
  static void step(Parallel p, double[] param, double[] grad, double[] m, double[] v, double lr, double beta1, double beta2, double eps, double weightDecay, int step) { throw new UnsupportedOperationException("not implemented yet"); }
}
