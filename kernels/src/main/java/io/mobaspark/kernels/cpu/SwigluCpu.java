package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class SwigluCpu {
  private SwigluCpu() {}
  static void forward(Parallel p, double[] out, double[] gate, double[] up) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dGate, double[] dUp, double[] dOut, double[] gate, double[] up) { throw new UnsupportedOperationException("not implemented yet"); }
}
