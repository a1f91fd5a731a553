package io.mobaspark.kernels.cpu;

/**
 * RMSNorm (Zhang and Sennrich 2019) without bias: {@code out = x * rstd * weight} with
 * {@code rstd = 1 / sqrt(mean(x^2) + eps)} per row; eps sits inside the square root.
 */
final class RmsNormCpu {
  /** Rows per task: a row is {@code C} multiply-adds, a few hundred make a task worth it. */
  private static final int ROW_GRAIN = 16;
  /** Channels per dWeight task; each task walks every row. */
  private static final int CHANNEL_GRAIN = 64;

  private RmsNormCpu() {}

  /** out {@code [T, C]}, rstd {@code [T]} (saved for backward), x {@code [T, C]}, weight {@code [C]}. */
  static void forward(Parallel p, double[] out, double[] rstd, double[] x, double[] weight,
      int rows, int cols, double eps) {
    p.forRange(rows, ROW_GRAIN, (r0, r1) -> {
      for (int r = r0; r < r1; r++) {
        int base = r * cols;
        double sumSq = 0;
        for (int c = 0; c < cols; c++) {
          sumSq += x[base + c] * x[base + c];
        }
        double s = 1.0 / Math.sqrt(sumSq / cols + eps);
        rstd[r] = s;
        for (int c = 0; c < cols; c++) {
          out[base + c] = x[base + c] * s * weight[c];
        }
      }
    });
  }

  /**
   * dx {@code [T, C]} and dWeight {@code [C]} both accumulate. With {@code s = rstd[t]} and
   * {@code g = dOut * weight}: {@code dx = s * (g - x * s^2 * mean(g * x))}, because
   * {@code ds/dx_i = -s^3 x_i / C}. dWeight sums {@code dOut * x * s} over rows; its tasks own
   * channel slices so rows add in order whatever the split.
   */
  static void backward(Parallel p, double[] dx, double[] dWeight, double[] dOut, double[] x,
      double[] weight, double[] rstd, int rows, int cols) {
    p.forRange(rows, ROW_GRAIN, (r0, r1) -> {
      for (int r = r0; r < r1; r++) {
        int base = r * cols;
        double s = rstd[r];
        double gx = 0;
        for (int c = 0; c < cols; c++) {
          gx += dOut[base + c] * weight[c] * x[base + c];
        }
        double k = s * s * gx / cols;
        for (int c = 0; c < cols; c++) {
          dx[base + c] += s * (dOut[base + c] * weight[c] - x[base + c] * k);
        }
      }
    });
    p.forRange(cols, CHANNEL_GRAIN, (c0, c1) -> {
      double[] partial = new double[c1 - c0]; // [slice of C]
      for (int r = 0; r < rows; r++) {
        int base = r * cols;
        double s = rstd[r];
        for (int c = c0; c < c1; c++) {
          partial[c - c0] += dOut[base + c] * x[base + c] * s;
        }
      }
      for (int c = c0; c < c1; c++) {
        dWeight[c] += partial[c - c0];
      }
    });
  }
}
