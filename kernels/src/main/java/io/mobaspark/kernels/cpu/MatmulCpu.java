package io.mobaspark.kernels.cpu;

import java.util.Arrays;

/**
 * Dense product {@code out = op(a) @ op(b)} (or {@code +=}), the bulk of CPU training time.
 *
 * <p>Blocking, after GotoBLAS in miniature: {@code op(b)} is cut into panels of
 * {@link #PANEL_DEPTH} rows of K by {@link #PANEL_WIDTH} columns of N and packed into separate row
 * arrays (transposing {@code b} on the way when needed), so the panel stays in L2 while every row
 * of {@code out} streams through it. Per panel, tasks own blocks of {@link #ROW_BLOCK} output rows:
 * they copy their slice of {@code out} into a per-thread accumulator of row arrays, add the panel's
 * contribution with an i-k-j loop, and copy it back. {@code op(a)} needs no packing: the kernel reads
 * four consecutive rows' scalars per k, which are adjacent in memory when {@code a} is transposed.
 *
 * <p>Why row arrays: JDK 17's C2 vectorizes {@code c[j] += x * b[j]} only when every array index in
 * the loop has the same loop-invariant offset. Rows of a flat array have different offsets and the
 * loop stays scalar (measured about 6 GFLOP/s per core against more than 20 with row arrays).
 *
 * <p>Summation order: each output element adds its K products one at a time in increasing k,
 * starting from its old value ({@code accumulate}) or from zero, which is the order of the naive
 * triple loop and independent of the thread count and the blocking.
 */
final class MatmulCpu {
  /** K rows per packed panel; with {@link #PANEL_WIDTH} a panel is 512 KiB, half a 1 MiB L2. */
  static final int PANEL_DEPTH = 256;
  /** N columns per panel: four accumulator rows (8 KiB) and a panel row (2 KiB) stay in L1. */
  static final int PANEL_WIDTH = 256;
  /** Output rows per unit of parallel work; each reuses the panel this many times from L2. */
  static final int ROW_BLOCK = 64;

  /** Per-thread {@code [ROW_BLOCK][PANEL_WIDTH]} accumulator, reused across calls. */
  private static final ThreadLocal<double[][]> ACCUMULATOR =
      ThreadLocal.withInitial(() -> new double[ROW_BLOCK][PANEL_WIDTH]);

  private MatmulCpu() {}

  /**
   * out {@code [M, N]}; a {@code [M, K]} or, when transA, {@code [K, M]}; b {@code [K, N]} or, when
   * transB, {@code [N, K]}.
   */
  static void matmul(Parallel p, double[] out, double[] a, double[] b, int m, int n, int k,
      boolean transA, boolean transB, boolean accumulate) {
    if (k == 0 && !accumulate) {
      Arrays.fill(out, 0, m * n, 0.0);
    }
    if (m == 0 || n == 0 || k == 0) {
      return;
    }
    Operand left = new Operand(a, transA ? 1 : k, transA ? m : 1);
    double[][] panel = new double[Math.min(PANEL_DEPTH, k)][Math.min(PANEL_WIDTH, n)];
    int rowBlocks = (m + ROW_BLOCK - 1) / ROW_BLOCK;
    for (int k0 = 0; k0 < k; k0 += PANEL_DEPTH) {
      int depth = Math.min(PANEL_DEPTH, k - k0);
      boolean startFromZero = k0 == 0 && !accumulate;
      for (int j0 = 0; j0 < n; j0 += PANEL_WIDTH) {
        int width = Math.min(PANEL_WIDTH, n - j0);
        pack(panel, b, k0, depth, j0, width, n, k, transB);
        Tile tile = new Tile(k0, depth, j0, width, startFromZero);
        p.forRange(rowBlocks, 1, (block0, block1) -> {
          double[][] acc = ACCUMULATOR.get();
          for (int block = block0; block < block1; block++) {
            int i0 = block * ROW_BLOCK;
            multiplyRows(acc, out, i0, Math.min(ROW_BLOCK, m - i0), n, left, panel, tile);
          }
        });
      }
    }
  }

  /** {@code op(a)[i, kk] = values[i * rowStride + kk * depthStride]}. */
  private record Operand(double[] values, int rowStride, int depthStride) {}

  /** The panel being applied: K range {@code [k0, k0 + depth)}, N range {@code [j0, j0 + width)}. */
  private record Tile(int k0, int depth, int j0, int width, boolean startFromZero) {}

  /** {@code panel[d][0, width) = op(b)[k0 + d, j0 .. j0 + width)}. */
  private static void pack(double[][] panel, double[] b, int k0, int depth, int j0, int width,
      int n, int k, boolean transB) {
    if (!transB) {
      for (int d = 0; d < depth; d++) {
        System.arraycopy(b, (k0 + d) * n + j0, panel[d], 0, width);
      }
      return;
    }
    for (int j = 0; j < width; j++) {
      int source = (j0 + j) * k + k0; // row j0 + j of b [N, K]
      for (int d = 0; d < depth; d++) {
        panel[d][j] = b[source + d];
      }
    }
  }

  /** {@code out[i0 .. i0 + rows, tile columns] (+)= op(a)[those rows, tile depth] @ panel}. */
  private static void multiplyRows(double[][] acc, double[] out, int i0, int rows, int n,
      Operand left, double[][] panel, Tile tile) {
    for (int r = 0; r < rows; r++) {
      if (tile.startFromZero()) {
        Arrays.fill(acc[r], 0, tile.width(), 0.0);
      } else {
        System.arraycopy(out, (i0 + r) * n + tile.j0(), acc[r], 0, tile.width());
      }
    }
    double[] a = left.values();
    int rowStride = left.rowStride();
    int depthStride = left.depthStride();
    int width = tile.width();
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
      double[] c0 = acc[r];
      double[] c1 = acc[r + 1];
      double[] c2 = acc[r + 2];
      double[] c3 = acc[r + 3];
      int first = (i0 + r) * rowStride + tile.k0() * depthStride; // op(a)[i0 + r, k0]
      for (int d = 0; d < tile.depth(); d++) {
        int at = first + d * depthStride;
        double x0 = a[at];
        double x1 = a[at + rowStride];
        double x2 = a[at + 2 * rowStride];
        double x3 = a[at + 3 * rowStride];
        double[] bRow = panel[d];
        for (int j = 0; j < width; j++) {
          double bj = bRow[j];
          c0[j] += x0 * bj;
          c1[j] += x1 * bj;
          c2[j] += x2 * bj;
          c3[j] += x3 * bj;
        }
      }
    }
    for (; r < rows; r++) {
      double[] c = acc[r];
      int first = (i0 + r) * rowStride + tile.k0() * depthStride;
      for (int d = 0; d < tile.depth(); d++) {
        double x = a[first + d * depthStride];
        double[] bRow = panel[d];
        for (int j = 0; j < width; j++) {
          c[j] += x * bRow[j];
        }
      }
    }
    for (int row = 0; row < rows; row++) {
      System.arraycopy(acc[row], 0, out, (i0 + row) * n + tile.j0(), width);
    }
  }
}
