package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class AttentionCpu {
  private AttentionCpu() {}
  static void forward(Parallel p, double[] out, double[] lse, double[] q, double[] k, double[] v, int[] routing, AttentionConfig config, SeqLayout layout) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dq, double[] dk, double[] dv, double[] dOut, double[] q, double[] k, double[] v, double[] out, double[] lse, int[] routing, AttentionConfig config, SeqLayout layout) { throw new UnsupportedOperationException("not implemented yet"); }
}
