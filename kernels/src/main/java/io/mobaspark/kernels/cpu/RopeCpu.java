package io.mobaspark.kernels.cpu;

/**
 * Rotary position embedding (Su et al. 2021, RoFormer) in the rotate-half convention of GPT-NeoX
 * and Hugging Face Llama: channel {@code i < D/2} pairs with {@code i + D/2}, and the pair rotates by
 * {@code pos * theta^(-2i/D)}. Each pair is read before it is written, so out may alias x.
 */
final class RopeCpu {
  /** Tokens per task: a token is {@code heads * D} multiply-adds plus {@code D} sin/cos. */
  private static final int TOKEN_GRAIN = 16;

  private RopeCpu() {}

  /** out, x {@code [T, heads, D]}; positions {@code [T]}. */
  static void forward(Parallel p, double[] out, double[] x, int[] positions, int tokens, int heads,
      int headDim, double theta) {
    rotate(p, out, x, positions, tokens, heads, headDim, theta, 1.0);
  }

  /** The inverse (transpose) rotation: dx, dOut {@code [T, heads, D]}; dx may be dOut. */
  static void backward(Parallel p, double[] dx, double[] dOut, int[] positions, int tokens,
      int heads, int headDim, double theta) {
    rotate(p, dx, dOut, positions, tokens, heads, headDim, theta, -1.0);
  }

  /** Rotates every pair by {@code direction * angle}: +1 forward, -1 backward. */
  private static void rotate(Parallel p, double[] out, double[] in, int[] positions, int tokens,
      int heads, int headDim, double theta, double direction) {
    if (!(theta > 0) || Double.isInfinite(theta)) {
      throw new IllegalArgumentException("RoPE theta must be positive and finite, got " + theta);
    }
    for (int t = 0; t < tokens; t++) {
      if (positions[t] < 0) {
        throw new IllegalArgumentException(
            "positions[" + t + "] = " + positions[t] + " is negative");
      }
    }
    int half = headDim / 2;
    double[] inverseFrequency = new double[half]; // [D/2]
    for (int i = 0; i < half; i++) {
      inverseFrequency[i] = Math.pow(theta, -2.0 * i / headDim);
    }
    p.forRange(tokens, TOKEN_GRAIN, (t0, t1) -> {
      double[] cos = new double[half];
      double[] sin = new double[half];
      for (int t = t0; t < t1; t++) {
        for (int i = 0; i < half; i++) {
          double angle = positions[t] * inverseFrequency[i];
          cos[i] = Math.cos(angle);
          sin[i] = direction * Math.sin(angle);
        }
        for (int h = 0; h < heads; h++) {
          int base = (t * heads + h) * headDim;
          for (int i = 0; i < half; i++) {
            double first = in[base + i];
            double second = in[base + half + i];
            out[base + i] = first * cos[i] - second * sin[i];
            out[base + half + i] = second * cos[i] + first * sin[i];
          }
        }
      }
    });
  }
}
