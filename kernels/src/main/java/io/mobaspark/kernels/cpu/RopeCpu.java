package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class RopeCpu {
  private RopeCpu() {}
  static void forward(Parallel p, double[] out, double[] x, int[] positions, int tokens, int heads, int headDim, double theta) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dx, double[] dOut, int[] positions, int tokens, int heads, int headDim, double theta) { throw new UnsupportedOperationException("not implemented yet"); }
}
