package io.mobaspark.kernels.cpu;

/**
 * AdamW (Loshchilov and Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) with
 * Adam's bias correction (Kingma and Ba 2015): the decay multiplies the parameter directly instead
 * of entering the gradient, so it is not rescaled by the adaptive denominator.
 */
final class AdamWCpu {
  /** Elements per task. */
  private static final int GRAIN = 1 << 13;

  private AdamWCpu() {}

  /**
   * For 1-based {@code step}: {@code m = beta1 m + (1-beta1) g}, {@code v = beta2 v + (1-beta2) g^2},
   * {@code mhat = m / (1 - beta1^step)}, {@code vhat = v / (1 - beta2^step)},
   * {@code param -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * param)}.
   */
  static void step(Parallel p, double[] param, double[] grad, double[] m, double[] v, double lr,
      double beta1, double beta2, double eps, double weightDecay, int step) {
    requireBeta("beta1", beta1);
    requireBeta("beta2", beta2);
    double correction1 = 1 - Math.pow(beta1, step);
    double correction2 = 1 - Math.pow(beta2, step);
    p.forRange(param.length, GRAIN, (i0, i1) -> {
      for (int i = i0; i < i1; i++) {
        double g = grad[i];
        double mi = beta1 * m[i] + (1 - beta1) * g;
        double vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        double mHat = mi / correction1;
        double vHat = vi / correction2;
        param[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * param[i]);
      }
    });
  }

  /** A decay rate of 1 would make the bias correction divide by zero. */
  private static void requireBeta(String name, double beta) {
    if (!(beta >= 0 && beta < 1)) {
      throw new IllegalArgumentException("AdamW " + name + " must lie in [0, 1), got " + beta);
    }
  }
}
