package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class KeyConvCpu {
  private KeyConvCpu() {}
  static void forward(Parallel p, double[] out, double[] k, double[] weight, int kvHeads, int headDim, int width, SeqLayout layout) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dk, double[] dWeight, double[] dOut, double[] k, double[] weight, int kvHeads, int headDim, int width, SeqLayout layout) { throw new UnsupportedOperationException("not implemented yet"); }
}
