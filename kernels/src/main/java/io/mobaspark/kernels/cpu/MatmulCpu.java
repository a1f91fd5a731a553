package io.mobaspark.kernels.cpu;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;

// PLACEHOLDER: being implemented; replace this whole file.
final class MatmulCpu {
  private MatmulCpu() {}
  static void matmul(Parallel p, double[] out, double[] a, double[] b, int m, int n, int k, boolean transA, boolean transB, boolean accumulate) { throw new UnsupportedOperationException("not implemented yet"); }
}
