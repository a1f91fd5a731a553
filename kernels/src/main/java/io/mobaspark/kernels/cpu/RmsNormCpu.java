package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class RmsNormCpu {
  private RmsNormCpu() {}
  static void forward(Parallel p, double[] out, double[] rstd, double[] x, double[] weight, int rows, int cols, double eps) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dx, double[] dWeight, double[] dOut, double[] x, double[] weight, double[] rstd, int rows, int cols) { throw new UnsupportedOperationException("not implemented yet"); }
}
