package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class MobaRouterCpu {
  private MobaRouterCpu() {}
  static void route(Parallel p, int[] routing, double[] q, double[] k, AttentionConfig config, SeqLayout layout) { throw new UnsupportedOperationException("not implemented yet"); }
}
