package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdamWCpuTest {
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  /**
   * Two steps worked by hand with lr 0.1, betas (0.5, 0.75), eps 0.25, weight decay 0.5, chosen so
   * every intermediate is a short exact binary fraction.
   */
  @Test
  void twoStepsMatchHandComputation() {
    Tensor param = tensor(cpu, "param", new double[] {1.0, -2.0}, 2);
    Tensor m = cpu.tensor("m", 2);
    Tensor v = cpu.tensor("v", 2);

    // Step 1, grad (2, -4): m = 0.5 g = (1, -2); v = 0.25 g^2 = (1, 4);
    // mhat = m / 0.5 = (2, -4); vhat = v / 0.25 = (4, 16); sqrt(vhat) + eps = (2.25, 4.25);
    // param -= 0.1 * (mhat / (sqrt(vhat) + eps) + 0.5 * param)
    cpu.adamw(param, tensor(cpu, "grad", new double[] {2, -4}, 2), m, v, 0.1, 0.5, 0.75, 0.25,
        0.5, 1);
    double p0 = 1.0 - 0.1 * (2 / 2.25 + 0.5 * 1.0);
    double p1 = -2.0 - 0.1 * (-4 / 4.25 + 0.5 * -2.0);
    assertArrayEquals(new double[] {1, -2}, cpu.read(m), 0.0);
    assertArrayEquals(new double[] {1, 4}, cpu.read(v), 0.0);
    assertArrayEquals(new double[] {p0, p1}, cpu.read(param), 1e-15);

    // Step 2, grad (0, 4): m = 0.5 m + 0.5 g = (0.5, 1); v = 0.75 v + 0.25 g^2 = (0.75, 7);
    // corrections 1 - 0.5^2 = 0.75 and 1 - 0.75^2 = 0.4375.
    cpu.adamw(param, tensor(cpu, "grad", new double[] {0, 4}, 2), m, v, 0.1, 0.5, 0.75, 0.25,
        0.5, 2);
    double q0 = p0 - 0.1 * ((0.5 / 0.75) / (Math.sqrt(0.75 / 0.4375) + 0.25) + 0.5 * p0);
    double q1 = p1 - 0.1 * ((1 / 0.75) / (Math.sqrt(7 / 0.4375) + 0.25) + 0.5 * p1);
    assertArrayEquals(new double[] {0.5, 1}, cpu.read(m), 0.0);
    assertArrayEquals(new double[] {0.75, 7}, cpu.read(v), 0.0);
    assertArrayEquals(new double[] {q0, q1}, cpu.read(param), 1e-15);
  }

  @Test
  void badArgumentsAreRejected() {
    Tensor param = cpu.tensor("param", 3);
    Tensor grad = cpu.tensor("grad", 3);
    Tensor v = cpu.tensor("v", 3);

    assertRejected(() -> cpu.adamw(param, grad, cpu.tensor("m", 4), v, 1e-3, 0.9, 0.95, 1e-8,
        0.1, 1), "m", "[4]", "[3]");
    assertRejected(() -> cpu.adamw(param, grad, cpu.tensor("m", 3), v, 1e-3, 0.9, 0.95, 1e-8,
        0.1, 0), "step", "0");
    assertRejected(() -> cpu.adamw(param, grad, cpu.tensor("m", 3), v, 1e-3, 1.0, 0.95, 1e-8,
        0.1, 1), "beta1", "1.0");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      Tensor param = tensor(f32, "param", GradCheck.random(1, 10, 1.0), 10);
      Tensor m = f32.tensor("m", 10);
      Tensor v = f32.tensor("v", 10);
      for (int step = 1; step <= 3; step++) {
        f32.adamw(param, tensor(f32, "grad", GradCheck.random(1 + step, 10, 1.0), 10), m, v, 6e-4,
            0.9, 0.95, 1e-8, 0.1, step);
      }

      for (Tensor t : new Tensor[] {param, m, v}) {
        assertFloatRepresentable(t.name(), f32.read(t));
      }
    }
  }
}
