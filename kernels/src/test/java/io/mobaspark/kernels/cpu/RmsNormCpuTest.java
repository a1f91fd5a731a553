package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RmsNormCpuTest {
  private static final double EPS = 1e-5;
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void forwardScalesEachRowByItsRootMeanSquareWithEpsInsideTheRoot() {
    Tensor x = tensor(cpu, "x", new double[] {3, 4, 0, 0}, 2, 2); // [T=2, C=2]
    Tensor weight = tensor(cpu, "weight", new double[] {1, 2}, 2);
    Tensor out = cpu.tensor("out", 2, 2);
    Tensor rstd = cpu.tensor("rstd", 2);

    cpu.rmsNormForward(out, rstd, x, weight, 0.5);

    double s0 = 1 / Math.sqrt((9 + 16) / 2.0 + 0.5); // = 1/sqrt(13)
    double s1 = 1 / Math.sqrt(0.5);
    assertArrayEquals(new double[] {s0, s1}, cpu.read(rstd), 1e-15);
    assertArrayEquals(new double[] {3 * s0, 8 * s0, 0, 0}, cpu.read(out), 1e-15);
  }

  @Test
  void backwardMatchesFiniteDifferencesAndAccumulates() {
    int rows = 4;
    int cols = 6;
    double[] xValues = GradCheck.random(1, rows * cols, 2.0);
    double[] wValues = GradCheck.random(2, cols, 1.5);
    double[] r = GradCheck.random(3, rows * cols, 1.0);
    Tensor x = tensor(cpu, "x", xValues, rows, cols);
    Tensor weight = tensor(cpu, "weight", wValues, cols);
    Tensor out = cpu.tensor("out", rows, cols);
    Tensor rstd = cpu.tensor("rstd", rows);
    DoubleSupplier loss = () -> {
      cpu.write(x, xValues);
      cpu.write(weight, wValues);
      cpu.rmsNormForward(out, rstd, x, weight, EPS);
      return GradCheck.dot(cpu.read(out), r);
    };
    double[] expectedDx = GradCheck.numeric(xValues, loss, 1e-6);
    double[] expectedDw = GradCheck.numeric(wValues, loss, 1e-6);

    loss.getAsDouble(); // restores the unperturbed inputs and their rstd
    double[] dxInitial = GradCheck.random(4, rows * cols, 1.0);
    double[] dwInitial = GradCheck.random(5, cols, 1.0);
    Tensor dx = tensor(cpu, "dx", dxInitial, rows, cols);
    Tensor dWeight = tensor(cpu, "dWeight", dwInitial, cols);
    cpu.rmsNormBackward(dx, dWeight, tensor(cpu, "dOut", r, rows, cols), x, weight, rstd);

    GradCheck.assertClose("dx", expectedDx, minus(cpu.read(dx), dxInitial), 1e-6, 1e-8);
    GradCheck.assertClose("dWeight", expectedDw, minus(cpu.read(dWeight), dwInitial), 1e-6, 1e-8);
  }

  private static double[] minus(double[] a, double[] b) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i] - b[i];
    }
    return d;
  }

  @Test
  void backwardIsBitwiseIndependentOfThreadCount() {
    int rows = 400;
    int cols = 320;
    double[][] one = backward(1, rows, cols);
    double[][] three = backward(3, rows, cols);

    assertArrayEquals(one[0], three[0], "dx");
    assertArrayEquals(one[1], three[1], "dWeight");
  }

  private static double[][] backward(int threads, int rows, int cols) {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, threads)) {
      Tensor x = tensor(backend, "x", GradCheck.random(6, rows * cols, 1.0), rows, cols);
      Tensor weight = tensor(backend, "weight", GradCheck.random(7, cols, 1.0), cols);
      Tensor rstd = backend.tensor("rstd", rows);
      backend.rmsNormForward(backend.tensor("out", rows, cols), rstd, x, weight, EPS);
      Tensor dx = backend.tensor("dx", rows, cols);
      Tensor dWeight = backend.tensor("dWeight", cols);
      backend.rmsNormBackward(dx, dWeight,
          tensor(backend, "dOut", GradCheck.random(8, rows * cols, 1.0), rows, cols), x, weight,
          rstd);
      return new double[][] {backend.read(dx), backend.read(dWeight)};
    }
  }

  @Test
  void wrongShapesAndEpsAreRejected() {
    Tensor x = cpu.tensor("x", 3, 4);
    Tensor out = cpu.tensor("out", 3, 4);
    Tensor weight = cpu.tensor("weight", 4);

    assertRejected(() -> cpu.rmsNormForward(out, cpu.tensor("rstd", 4), x, weight, EPS),
        "rstd", "[4]", "[3]");
    assertRejected(() -> cpu.rmsNormForward(out, cpu.tensor("rstd", 3), x, cpu.tensor("w", 3),
        EPS), "w", "[3]", "[4]");
    assertRejected(() -> cpu.rmsNormForward(out, cpu.tensor("rstd", 3), x, weight, 0.0), "eps");
    assertRejected(() -> cpu.rmsNormBackward(cpu.tensor("dx", 4, 3), cpu.tensor("dWeight", 4),
        out, x, weight, cpu.tensor("rstd", 3)), "dx", "[4, 3]");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      Tensor x = tensor(f32, "x", GradCheck.random(9, 12, 1.0), 3, 4);
      Tensor weight = tensor(f32, "weight", GradCheck.random(10, 4, 1.0), 4);
      Tensor out = f32.tensor("out", 3, 4);
      Tensor rstd = f32.tensor("rstd", 3);
      Tensor dx = f32.tensor("dx", 3, 4);
      Tensor dWeight = f32.tensor("dWeight", 4);

      f32.rmsNormForward(out, rstd, x, weight, EPS);
      f32.rmsNormBackward(dx, dWeight, tensor(f32, "dOut", GradCheck.random(11, 12, 1.0), 3, 4),
          x, weight, rstd);

      for (Tensor t : new Tensor[] {out, rstd, dx, dWeight}) {
        assertFloatRepresentable(t.name(), f32.read(t));
      }
    }
  }
}
