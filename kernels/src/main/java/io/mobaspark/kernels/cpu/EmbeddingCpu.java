package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class EmbeddingCpu {
  private EmbeddingCpu() {}
  static void forward(Parallel p, double[] out, int[] tokens, double[] table, int tokenCount, int channels, int vocab) { throw new UnsupportedOperationException("not implemented yet"); }
  static void backward(Parallel p, double[] dTable, double[] dOut, int[] tokens, int tokenCount, int channels, int vocab) { throw new UnsupportedOperationException("not implemented yet"); }
}
