package io.mobaspark.kernels.cpu;

/**
 * The SwiGLU feed-forward gate (Shazeer 2020, "GLU Variants Improve Transformer"):
 * {@code out = silu(gate) * up} with {@code silu(g) = g * sigmoid(g)}, elementwise.
 */
final class SwigluCpu {
  /** Elements per task. */
  private static final int GRAIN = 1 << 13;

  private SwigluCpu() {}

  /** out, gate, up {@code [T, F]}. */
  static void forward(Parallel p, double[] out, double[] gate, double[] up) {
    p.forRange(out.length, GRAIN, (i0, i1) -> {
      for (int i = i0; i < i1; i++) {
        double g = gate[i];
        out[i] = g * sigmoid(g) * up[i];
      }
    });
  }

  /**
   * dGate, dUp (overwritten) {@code [T, F]}: {@code dUp = dOut * silu(g)} and
   * {@code dGate = dOut * up * s * (1 + g * (1 - s))} with {@code s = sigmoid(g)}. Every input is
   * read before either output is written, so the gradients may alias dOut.
   */
  static void backward(Parallel p, double[] dGate, double[] dUp, double[] dOut, double[] gate,
      double[] up) {
    p.forRange(dOut.length, GRAIN, (i0, i1) -> {
      for (int i = i0; i < i1; i++) {
        double g = gate[i];
        double u = up[i];
        double d = dOut[i];
        double s = sigmoid(g);
        dUp[i] = d * g * s;
        dGate[i] = d * u * s * (1 + g * (1 - s));
      }
    });
  }

  /** Logistic function without overflow: exp only ever sees a non-positive argument. */
  static double sigmoid(double g) {
    if (g >= 0) {
      return 1.0 / (1.0 + Math.exp(-g));
    }
    double e = Math.exp(g);
    return e / (1.0 + e);
  }
}
