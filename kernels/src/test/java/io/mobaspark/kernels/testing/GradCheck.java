package io.mobaspark.kernels.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Central finite differences in double precision, for checking every backward op against its
 * forward. Pattern: on a float64 CPU backend, take {@code loss = sum(out * r)} for a random
 * {@code r}, so that {@code dOut = r}; compare the backward's gradients with {@link #numeric}.
 */
public final class GradCheck {
  private GradCheck() {}

  /**
   * d loss / d x[i] by central differences for every index (perturbs {@code x} in place and
   * restores it). {@code loss} must recompute the forward from the current contents of {@code x}.
   */
  public static double[] numeric(double[] x, DoubleSupplier loss, double eps) {
    double[] grad = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      grad[i] = numericAt(x, i, loss, eps);
    }
    return grad;
  }

  /** d loss / d x[i] for one index. */
  public static double numericAt(double[] x, int i, DoubleSupplier loss, double eps) {
    double saved = x[i];
    x[i] = saved + eps;
    double plus = loss.getAsDouble();
    x[i] = saved - eps;
    double minus = loss.getAsDouble();
    x[i] = saved;
    return (plus - minus) / (2 * eps);
  }

  /** {@code sum(a * b)}: the scalar loss whose gradient with respect to {@code a} is {@code b}. */
  public static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  /** Deterministic values uniform in {@code [-scale, scale)}. */
  public static double[] random(long seed, int n, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = (2 * r.nextDouble() - 1) * scale;
    }
    return out;
  }

  /** Deterministic ints uniform in {@code [0, bound)}. */
  public static int[] randomInts(long seed, int n, int bound) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = r.nextInt(bound);
    }
    return out;
  }

  /**
   * Fails with the first offending index unless {@code |actual - expected| <= atol + rtol*|expected|}
   * everywhere.
   */
  public static void assertClose(String what, double[] expected, double[] actual, double rtol,
      double atol) {
    if (expected.length != actual.length) {
      fail(what + ": length " + actual.length + ", expected " + expected.length);
    }
    for (int i = 0; i < expected.length; i++) {
      double tol = atol + rtol * Math.abs(expected[i]);
      if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
        fail(what + ": index " + i + " is " + actual[i] + ", expected " + expected[i] + " (tolerance "
            + tol + ")");
      }
    }
  }

  /** Largest absolute difference. */
  public static double maxAbsDiff(double[] a, double[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }
}
