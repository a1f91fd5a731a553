package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class MatmulCpuTest {
  private static final int[] AWKWARD = {1, 7, 113};
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void matchesNaiveLoopAtAwkwardSizesForEveryTransposeAndAccumulate() {
    for (int m : AWKWARD) {
      for (int n : AWKWARD) {
        for (int k : AWKWARD) {
          checkAgainstNaive(m, n, k);
        }
      }
    }
  }

  @Test
  void matchesNaiveLoopAcrossSeveralPanelsAndRowBlocks() {
    checkAgainstNaive(2 * MatmulCpu.ROW_BLOCK + 5, 2 * MatmulCpu.PANEL_WIDTH + 5,
        2 * MatmulCpu.PANEL_DEPTH + 7);
  }

  private void checkAgainstNaive(int m, int n, int k) {
    for (int c = 0; c < 4; c++) {
      boolean transA = (c & 2) != 0;
      boolean transB = (c & 1) != 0;
      for (boolean accumulate : new boolean[] {false, true}) {
        double[] a = GradCheck.random(m * 31L + k, m * k, 1.0);
        double[] b = GradCheck.random(n * 37L + k, k * n, 1.0);
        double[] initial = GradCheck.random(m + n, m * n, 1.0);
        Tensor out = tensor(cpu, "out", initial, m, n);

        cpu.matmul(out, operand(cpu, "a", a, m, k, transA), operand(cpu, "b", b, k, n, transB),
            transA, transB, accumulate);

        double[] expected = naive(a, b, accumulate ? initial : new double[m * n], m, n, k, transA,
            transB);
        String what = "M=" + m + " N=" + n + " K=" + k + " transA=" + transA + " transB="
            + transB + " accumulate=" + accumulate;
        GradCheck.assertClose(what, expected, cpu.read(out), 1e-12, 1e-12 * k);
      }
    }
  }

  @Test
  void matmulAddIsTheAddendPlusTheProductAndLeavesTheAddend() {
    int m = 7;
    int n = 5;
    int k = 3;
    double[] a = GradCheck.random(3, m * k, 1.0);
    double[] b = GradCheck.random(4, n * k, 1.0);
    double[] addend = GradCheck.random(5, m * n, 1.0);
    Tensor x = tensor(cpu, "x", addend, m, n);
    Tensor out = tensor(cpu, "out", GradCheck.random(6, m * n, 1.0), m, n);

    cpu.matmulAdd(out, x, tensor(cpu, "a", a, m, k), tensor(cpu, "b", b, n, k), false, true);

    GradCheck.assertClose("out", naive(a, b, addend, m, n, k, false, true), cpu.read(out), 1e-12,
        1e-12);
    assertArrayEquals(addend, cpu.read(x), 0.0);
  }

  /** The matrix {@code values} of logical shape {@code [rows, cols]}, stored transposed if asked. */
  private static Tensor operand(Backend backend, String name, double[] values, int rows, int cols,
      boolean transposed) {
    return transposed ? tensor(backend, name, values, cols, rows)
        : tensor(backend, name, values, rows, cols);
  }

  /** {@code initial + op(a) @ op(b)}, one product at a time; a and b are stored as given. */
  private static double[] naive(double[] a, double[] b, double[] initial, int m, int n, int k,
      boolean transA, boolean transB) {
    double[] out = initial.clone();
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = out[i * n + j];
        for (int kk = 0; kk < k; kk++) {
          s += (transA ? a[kk * m + i] : a[i * k + kk]) * (transB ? b[j * k + kk] : b[kk * n + j]);
        }
        out[i * n + j] = s;
      }
    }
    return out;
  }

  /**
   * With {@code loss = sum(op(a) @ op(b) * r)}: {@code d op(a) = r op(b)^T} and
   * {@code d op(b) = op(a)^T r}, each expressed as one accumulating matmul on the stored layouts,
   * the way the model's linear-layer backward uses it.
   */
  @Test
  void backwardProductsMatchFiniteDifferencesForEveryTranspose() {
    int m = 3;
    int n = 4;
    int k = 5;
    for (int c = 0; c < 4; c++) {
      boolean transA = (c & 2) != 0;
      boolean transB = (c & 1) != 0;
      double[] aValues = GradCheck.random(1 + c, m * k, 1.0);
      double[] bValues = GradCheck.random(5 + c, k * n, 1.0);
      double[] r = GradCheck.random(9 + c, m * n, 1.0);
      Tensor a = operand(cpu, "a", aValues, m, k, transA);
      Tensor b = operand(cpu, "b", bValues, k, n, transB);
      Tensor out = cpu.tensor("out", m, n);
      DoubleSupplier loss = () -> {
        cpu.write(a, aValues);
        cpu.write(b, bValues);
        cpu.matmul(out, a, b, transA, transB, false);
        return GradCheck.dot(cpu.read(out), r);
      };
      double[] expectedDa = GradCheck.numeric(aValues, loss, 1e-6);
      double[] expectedDb = GradCheck.numeric(bValues, loss, 1e-6);
      loss.getAsDouble(); // restores the unperturbed operands

      Tensor dOut = tensor(cpu, "dOut", r, m, n);
      Tensor da = cpu.tensor("da", a.shape().dims());
      Tensor db = cpu.tensor("db", b.shape().dims());
      if (transA) {
        cpu.matmul(da, b, dOut, transB, true, true); // [K, M] = op(b) r^T
      } else {
        cpu.matmul(da, dOut, b, false, !transB, true); // [M, K] = r op(b)^T
      }
      if (transB) {
        cpu.matmul(db, dOut, a, true, transA, true); // [N, K] = r^T op(a)
      } else {
        cpu.matmul(db, a, dOut, !transA, false, true); // [K, N] = op(a)^T r
      }

      GradCheck.assertClose("da case " + c, expectedDa, cpu.read(da), 1e-6, 1e-9);
      GradCheck.assertClose("db case " + c, expectedDb, cpu.read(db), 1e-6, 1e-9);
    }
  }

  @Test
  void resultIsBitwiseIndependentOfThreadCount() {
    int m = 200;
    int n = 300;
    int k = 270;
    for (int c = 0; c < 4; c++) {
      boolean transA = (c & 2) != 0;
      boolean transB = (c & 1) != 0;
      assertArrayEquals(product(1, m, n, k, transA, transB), product(3, m, n, k, transA, transB),
          "transA=" + transA + " transB=" + transB);
    }
  }

  private static double[] product(int threads, int m, int n, int k, boolean transA,
      boolean transB) {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, threads)) {
      Tensor out = tensor(backend, "out", GradCheck.random(3, m * n, 1.0), m, n);
      backend.matmul(out, operand(backend, "a", GradCheck.random(1, m * k, 1.0), m, k, transA),
          operand(backend, "b", GradCheck.random(2, k * n, 1.0), k, n, transB), transA, transB,
          true);
      return backend.read(out);
    }
  }

  @Test
  void emptyInnerDimensionGivesZeroOrLeavesTheAccumulator() {
    double[] initial = {1, 2, 3, 4, 5, 6};
    Tensor out = tensor(cpu, "out", initial, 2, 3);
    Tensor a = cpu.tensor("a", 2, 0);
    Tensor b = cpu.tensor("b", 0, 3);

    cpu.matmul(out, a, b, false, false, true);
    assertArrayEquals(initial, cpu.read(out));
    cpu.matmul(out, a, b, false, false, false);
    assertArrayEquals(new double[6], cpu.read(out));
  }

  @Test
  void wrongShapesNameTheTensors() {
    Tensor a = cpu.tensor("a", 2, 3);
    Tensor b = cpu.tensor("b", 4, 5);

    assertRejected(() -> cpu.matmul(cpu.tensor("out", 2, 5), a, b, false, false, false),
        "inner dimensions", "a[2, 3]", "b[4, 5]", "3 vs 4");
    assertRejected(() -> cpu.matmul(cpu.tensor("out", 2, 4), a, b, false, true, false), "b[4, 5]^T");
    assertRejected(() -> cpu.matmul(cpu.tensor("out", 3, 5), a, b, true, false, false),
        "a[2, 3]^T", "2 vs 4");
    assertRejected(() -> cpu.matmul(cpu.tensor("out", 5, 2), a, cpu.tensor("w", 3, 5), false,
        false, false), "out", "[5, 2]", "[2, 5]");
    assertRejected(() -> cpu.matmul(cpu.tensor("out", 2, 5), cpu.tensor("v", 6), b, false, false,
        false), "v[6]", "rank 2");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      Tensor out = f32.tensor("out", 9, 11);
      f32.matmul(out, tensor(f32, "a", GradCheck.random(1, 9 * 13, 1.0), 9, 13),
          tensor(f32, "b", GradCheck.random(2, 13 * 11, 1.0), 11, 13), false, true, false);

      double[] values = f32.read(out);
      assertFloatRepresentable("out", values);
      assertTrue(GradCheck.maxAbsDiff(values, new double[values.length]) > 0);
    }
  }
}
