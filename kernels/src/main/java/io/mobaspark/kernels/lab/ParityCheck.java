package io.mobaspark.kernels.lab;

import java.util.Locale;

/**
 * One tensor of one GPU parity check under MOBA.md's tolerance policy: the kernel passes when
 * {@code max|kernel - ref64| <= factor * max|naive - ref64| + 1e-5}, where ref64 is the float64 CPU
 * reference on the same (bf16-rounded) inputs and naive the same computation in the kernel's
 * precision with another operation order; factor 2 for forward outputs, 3 for gradients. A NaN
 * anywhere (an unwritten, poisoned element) fails.
 */
public record ParityCheck(String op, String shape, String tensor, double kernelError,
    double naiveError, double bound, boolean deterministic) {

  public static final double ABSOLUTE_SLACK = 1e-5;
  public static final double FORWARD_FACTOR = 2;
  public static final double GRADIENT_FACTOR = 3;

  /** Compares {@code kernel} and {@code naive} with {@code ref64} elementwise. */
  public static ParityCheck of(String op, String shape, String tensor, double[] kernel, double[] naive,
      double[] ref64, double factor, boolean deterministic) {
    double kernelError = maxAbsDiff(kernel, ref64);
    double naiveError = maxAbsDiff(naive, ref64);
    return new ParityCheck(op, shape, tensor, kernelError, naiveError,
        factor * naiveError + ABSOLUTE_SLACK, deterministic);
  }

  /** Largest elementwise difference; NaN when any element is NaN or the lengths differ. */
  static double maxAbsDiff(double[] a, double[] b) {
    if (a.length != b.length) {
      return Double.NaN;
    }
    double max = 0;
    for (int i = 0; i < a.length; i++) {
      double d = Math.abs(a[i] - b[i]);
      if (!(d <= max)) {
        max = Double.isNaN(d) ? Double.NaN : d;
        if (Double.isNaN(max)) {
          return max;
        }
      }
    }
    return max;
  }

  public boolean passed() {
    return kernelError <= bound && deterministic;
  }

  /** One row of the lab's table. */
  public String row() {
    return String.format(Locale.ROOT, "%-10s %-34s %-8s %10.3e %10.3e %10.3e %-5s %s", op, shape,
        tensor, kernelError, naiveError, bound, deterministic ? "yes" : "NO",
        passed() ? "pass" : "FAIL");
  }

  public static String header() {
    return String.format(Locale.ROOT, "%-10s %-34s %-8s %10s %10s %10s %-5s %s", "op", "shape",
        "tensor", "kernel", "naive", "bound", "repro", "result");
  }

  @Override
  public String toString() {
    return row();
  }
}
