package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.ints;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CrossEntropyCpuTest {
  private static final int ROWS = 5;
  private static final int VOCAB = 7;
  private static final int[] TARGETS = {3, -1, 0, 6, -1};
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void lossAndGradientMatchExplicitLogSoftmaxAndSkipIgnoredTargets() {
    double[] logits = GradCheck.random(1, ROWS * VOCAB, 5.0);
    double gradScale = 1.0 / 3; // three counted targets
    Tensor losses = tensor(cpu, "losses", GradCheck.random(2, ROWS, 1.0), ROWS);
    Tensor dLogits = tensor(cpu, "dLogits", GradCheck.random(3, ROWS * VOCAB, 1.0), ROWS, VOCAB);

    cpu.crossEntropy(losses, dLogits, tensor(cpu, "logits", logits, ROWS, VOCAB),
        ints(cpu, "targets", TARGETS, ROWS), gradScale);

    double[] expectedLosses = new double[ROWS];
    double[] expectedGrad = new double[ROWS * VOCAB];
    for (int t = 0; t < ROWS; t++) {
      if (TARGETS[t] == -1) {
        continue;
      }
      double sum = 0;
      for (int v = 0; v < VOCAB; v++) {
        sum += Math.exp(logits[t * VOCAB + v]);
      }
      for (int v = 0; v < VOCAB; v++) {
        double logSoftmax = logits[t * VOCAB + v] - Math.log(sum);
        expectedGrad[t * VOCAB + v] =
            gradScale * (Math.exp(logSoftmax) - (v == TARGETS[t] ? 1 : 0));
        if (v == TARGETS[t]) {
          expectedLosses[t] = -logSoftmax;
        }
      }
    }
    assertArrayEquals(expectedLosses, cpu.read(losses), 1e-13);
    assertArrayEquals(expectedGrad, cpu.read(dLogits), 1e-15);
  }

  @Test
  void gradientOfTheLossSumMatchesFiniteDifferences() {
    double[] logitValues = GradCheck.random(4, ROWS * VOCAB, 3.0);
    Tensor logits = tensor(cpu, "logits", logitValues, ROWS, VOCAB);
    IntTensor targets = ints(cpu, "targets", TARGETS, ROWS);
    Tensor losses = cpu.tensor("losses", ROWS);
    double[] r = GradCheck.random(5, ROWS, 1.0);
    double[] expected = GradCheck.numeric(logitValues, () -> {
      cpu.write(logits, logitValues);
      cpu.crossEntropy(losses, null, logits, targets, 1.0);
      return GradCheck.dot(cpu.read(losses), r);
    }, 1e-6);
    cpu.write(logits, logitValues);

    Tensor dLogits = cpu.tensor("dLogits", ROWS, VOCAB);
    cpu.crossEntropy(losses, dLogits, logits, targets, 1.0);
    double[] weighted = cpu.read(dLogits); // d(sum losses) per row, times r[t]
    for (int i = 0; i < weighted.length; i++) {
      weighted[i] *= r[i / VOCAB];
    }

    GradCheck.assertClose("dLogits", expected, weighted, 1e-6, 1e-9);
  }

  @Test
  void hugeLogitsStayFinite() {
    Tensor losses = cpu.tensor("losses", 1);
    Tensor dLogits = cpu.tensor("dLogits", 1, 3);

    cpu.crossEntropy(losses, dLogits, tensor(cpu, "logits", new double[] {1000, 1000, -1000}, 1,
        3), ints(cpu, "targets", new int[] {0}, 1), 1.0);

    assertEquals(Math.log(2), cpu.read(losses)[0], 1e-12);
    assertArrayEquals(new double[] {-0.5, 0.5, 0}, cpu.read(dLogits), 1e-12);
  }

  @Test
  void badTargetsAndShapesAreRejected() {
    Tensor logits = cpu.tensor("logits", 3, 4);
    Tensor losses = cpu.tensor("losses", 3);

    assertRejected(() -> cpu.crossEntropy(losses, null, logits,
        ints(cpu, "targets", new int[] {0, 4, 1}, 3), 1.0), "targets[1] = 4", "[0, 4)");
    assertRejected(() -> cpu.crossEntropy(losses, null, logits,
        ints(cpu, "targets", new int[] {0, 1, -2}, 3), 1.0), "targets[2] = -2");
    assertRejected(() -> cpu.crossEntropy(losses, cpu.tensor("dLogits", 4, 3), logits,
        ints(cpu, "targets", new int[] {0, 1, 2}, 3), 1.0), "dLogits", "[4, 3]", "[3, 4]");
    assertRejected(() -> cpu.crossEntropy(cpu.tensor("losses", 4), null, logits,
        ints(cpu, "targets", new int[] {0, 1, 2}, 3), 1.0), "losses", "[4]");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      Tensor losses = f32.tensor("losses", ROWS);
      Tensor dLogits = f32.tensor("dLogits", ROWS, VOCAB);
      f32.crossEntropy(losses, dLogits,
          tensor(f32, "logits", GradCheck.random(6, ROWS * VOCAB, 3.0), ROWS, VOCAB),
          ints(f32, "targets", TARGETS, ROWS), 0.25);

      assertFloatRepresentable("losses", f32.read(losses));
      assertFloatRepresentable("dLogits", f32.read(dLogits));
    }
  }
}
