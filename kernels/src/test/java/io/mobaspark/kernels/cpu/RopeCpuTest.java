package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertFloatRepresentable;
import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static io.mobaspark.kernels.cpu.CpuTestTensors.ints;
import static io.mobaspark.kernels.cpu.CpuTestTensors.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.testing.GradCheck;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RopeCpuTest {
  private static final double THETA = 10000;
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void forwardRotatesChannelIWithChannelIPlusHalf() {
    int headDim = 4;
    double[] x = {1, 2, 3, 4, 1, 2, 3, 4}; // [T=2, heads=1, D=4]
    Tensor out = cpu.tensor("out", 2, 1, headDim);

    cpu.ropeForward(out, tensor(cpu, "x", x, 2, 1, headDim), ints(cpu, "positions",
        new int[] {0, 3}, 2), 1, THETA);

    double a0 = 3 * 1.0; // position 3, pair 0: theta^0
    double a1 = 3 * Math.pow(THETA, -2.0 / headDim); // position 3, pair 1
    double[] expected = {
        1, 2, 3, 4, // position 0: identity
        1 * Math.cos(a0) - 3 * Math.sin(a0), 2 * Math.cos(a1) - 4 * Math.sin(a1),
        3 * Math.cos(a0) + 1 * Math.sin(a0), 4 * Math.cos(a1) + 2 * Math.sin(a1)};
    assertArrayEquals(expected, cpu.read(out), 1e-15);
  }

  @Test
  void forwardInPlaceEqualsOutOfPlace() {
    int tokens = 5;
    int heads = 3;
    int headDim = 8;
    double[] x = GradCheck.random(1, tokens * heads * headDim, 1.0);
    IntTensor positions = ints(cpu, "positions", new int[] {0, 1, 2, 0, 1}, tokens);
    Tensor out = cpu.tensor("out", tokens, heads, headDim);
    Tensor inPlace = tensor(cpu, "x", x, tokens, heads, headDim);

    cpu.ropeForward(out, tensor(cpu, "x", x, tokens, heads, headDim), positions, heads, THETA);
    cpu.ropeForward(inPlace, inPlace, positions, heads, THETA);

    assertArrayEquals(cpu.read(out), cpu.read(inPlace));
  }

  @Test
  void backwardMatchesFiniteDifferencesAndWorksInPlace() {
    int tokens = 4;
    int heads = 2;
    int headDim = 6;
    int n = tokens * heads * headDim;
    double[] xValues = GradCheck.random(2, n, 1.0);
    double[] r = GradCheck.random(3, n, 1.0);
    IntTensor positions = ints(cpu, "positions", new int[] {0, 7, 1, 250}, tokens);
    Tensor x = tensor(cpu, "x", xValues, tokens, heads, headDim);
    Tensor out = cpu.tensor("out", tokens, heads, headDim);
    double[] expected = GradCheck.numeric(xValues, () -> {
      cpu.write(x, xValues);
      cpu.ropeForward(out, x, positions, heads, THETA);
      return GradCheck.dot(cpu.read(out), r);
    }, 1e-6);

    Tensor dx = cpu.tensor("dx", tokens, heads, headDim);
    cpu.ropeBackward(dx, tensor(cpu, "dOut", r, tokens, heads, headDim), positions, heads, THETA);
    Tensor dOutInPlace = tensor(cpu, "dOut", r, tokens, heads, headDim);
    cpu.ropeBackward(dOutInPlace, dOutInPlace, positions, heads, THETA);

    GradCheck.assertClose("dx", expected, cpu.read(dx), 1e-6, 1e-9);
    assertArrayEquals(cpu.read(dx), cpu.read(dOutInPlace));
  }

  @Test
  void badOperandsAreRejected() {
    IntTensor positions = ints(cpu, "positions", new int[] {0, 1}, 2);
    Tensor x = cpu.tensor("x", 2, 2, 4);

    assertRejected(() -> cpu.ropeForward(cpu.tensor("out", 2, 2, 5), x, positions, 2, THETA),
        "out", "[2, 2, 5]");
    assertRejected(() -> cpu.ropeForward(x, x, positions, 3, THETA), "x", "[2, 3, 4]");
    assertRejected(() -> cpu.ropeForward(x, x, ints(cpu, "pos", new int[] {0, 1, 2}, 3), 2,
        THETA), "pos", "[3]");
    Tensor odd = cpu.tensor("odd", 2, 2, 3);
    assertRejected(() -> cpu.ropeForward(odd, odd, positions, 2, THETA), "even", "odd");
    assertRejected(() -> cpu.ropeBackward(x, x, ints(cpu, "positions", new int[] {0, -2}, 2), 2,
        THETA), "positions[1] = -2");
    assertRejected(() -> cpu.ropeForward(x, x, positions, 2, 0.0), "theta");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      IntTensor positions = ints(f32, "positions", new int[] {3, 9}, 2);
      Tensor x = tensor(f32, "x", GradCheck.random(4, 16, 1.0), 2, 2, 4);
      Tensor out = f32.tensor("out", 2, 2, 4);
      f32.ropeForward(out, x, positions, 2, THETA);
      f32.ropeBackward(x, out, positions, 2, THETA);

      assertFloatRepresentable("out", f32.read(out));
      assertFloatRepresentable("dx", f32.read(x));
    }
  }
}
