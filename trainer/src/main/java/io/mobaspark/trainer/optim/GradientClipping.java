package io.mobaspark.trainer.optim;

import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.Parameter;
import java.util.List;

/**
 * Global gradient-norm clipping: all gradients are treated as one vector, and scaled down together
 * when its L2 norm exceeds the threshold, which keeps the update direction (unlike clipping each
 * tensor on its own).
 */
public final class GradientClipping {
  private GradientClipping() {}

  /** The L2 norm of all gradients together. */
  public static double globalNorm(Backend backend, List<Parameter> parameters) {
    return norm(sumsOfSquares(backend, parameters));
  }

  /** Each parameter's gradient sum of squares, in parameter order, in one backend round trip. */
  public static double[] sumsOfSquares(Backend backend, List<Parameter> parameters) {
    return backend.sumsOfSquares(parameters.stream().map(Parameter::grad).toList());
  }

  /** The global norm from {@link #sumsOfSquares}. */
  public static double norm(double[] sumsOfSquares) {
    double sum = 0;
    for (double s : sumsOfSquares) {
      sum += s;
    }
    return Math.sqrt(sum);
  }

  /**
   * The factor that clips the gradients: {@code maxNorm / norm} when {@code norm > maxNorm}, else
   * exactly 1 ({@code maxNorm = 0} disables clipping). {@link AdamW#step(double, int, double)}
   * scales every gradient by it inside the update.
   */
  public static double factor(double norm, double maxNorm) {
    if (!(maxNorm >= 0)) {
      throw new IllegalArgumentException("grad_clip must be >= 0, got " + maxNorm);
    }
    return maxNorm == 0 || !(norm > maxNorm) ? 1.0 : maxNorm / norm;
  }
}
