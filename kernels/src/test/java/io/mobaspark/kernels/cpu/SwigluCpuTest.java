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

class SwigluCpuTest {
  private final CpuBackend cpu = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    cpu.close();
  }

  @Test
  void forwardIsSiluOfGateTimesUpAndStaysFiniteForLargeGates() {
    double[] gate = {0, 1, -2, 800, -800};
    double[] up = {5, 3, 2, 0.5, 7};
    Tensor out = cpu.tensor("out", 1, 5);

    cpu.swigluForward(out, tensor(cpu, "gate", gate, 1, 5), tensor(cpu, "up", up, 1, 5));

    double[] expected = new double[5];
    for (int i = 0; i < 4; i++) {
      expected[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
    }
    expected[4] = -0.0; // silu(-800) underflows to -0
    assertArrayEquals(expected, cpu.read(out), 1e-15);
  }

  @Test
  void projectionsAreTheTwoMatmulsThenSwiglu() {
    int tokens = 3;
    int width = 4;
    int hidden = 5;
    Tensor x = tensor(cpu, "x", GradCheck.random(6, tokens * width, 1.0), tokens, width);
    Tensor wGate = tensor(cpu, "w_gate", GradCheck.random(7, hidden * width, 1.0), hidden, width);
    Tensor wUp = tensor(cpu, "w_up", GradCheck.random(8, hidden * width, 1.0), hidden, width);
    Tensor gate = cpu.tensor("gate", tokens, hidden);
    Tensor up = cpu.tensor("up", tokens, hidden);
    Tensor act = cpu.tensor("act", tokens, hidden);
    cpu.matmul(gate, x, wGate, false, true, false);
    cpu.matmul(up, x, wUp, false, true, false);
    cpu.swigluForward(act, gate, up);
    double[][] separate = {cpu.read(gate), cpu.read(up), cpu.read(act)};
    for (Tensor t : new Tensor[] {gate, up, act}) {
      cpu.write(t, new double[tokens * hidden]);
    }

    cpu.swigluProjections(act, gate, up, x, wGate, wUp);

    assertArrayEquals(separate[0], cpu.read(gate), 0.0);
    assertArrayEquals(separate[1], cpu.read(up), 0.0);
    assertArrayEquals(separate[2], cpu.read(act), 0.0);
  }

  @Test
  void backwardMatchesFiniteDifferences() {
    int rows = 3;
    int width = 5;
    double[] gateValues = GradCheck.random(1, rows * width, 4.0);
    double[] upValues = GradCheck.random(2, rows * width, 2.0);
    double[] r = GradCheck.random(3, rows * width, 1.0);
    Tensor gate = tensor(cpu, "gate", gateValues, rows, width);
    Tensor up = tensor(cpu, "up", upValues, rows, width);
    Tensor out = cpu.tensor("out", rows, width);
    DoubleSupplier loss = () -> {
      cpu.write(gate, gateValues);
      cpu.write(up, upValues);
      cpu.swigluForward(out, gate, up);
      return GradCheck.dot(cpu.read(out), r);
    };
    double[] expectedDGate = GradCheck.numeric(gateValues, loss, 1e-6);
    double[] expectedDUp = GradCheck.numeric(upValues, loss, 1e-6);
    loss.getAsDouble(); // restores the unperturbed inputs

    Tensor dGate = tensor(cpu, "dGate", GradCheck.random(4, rows * width, 1.0), rows, width);
    Tensor dUp = tensor(cpu, "dUp", GradCheck.random(5, rows * width, 1.0), rows, width);
    cpu.swigluBackward(dGate, dUp, tensor(cpu, "dOut", r, rows, width), gate, up);

    GradCheck.assertClose("dGate (overwritten)", expectedDGate, cpu.read(dGate), 1e-6, 1e-9);
    GradCheck.assertClose("dUp (overwritten)", expectedDUp, cpu.read(dUp), 1e-6, 1e-9);
  }

  @Test
  void wrongShapesNameTheTensor() {
    Tensor gate = cpu.tensor("gate", 2, 3);
    Tensor up = cpu.tensor("up", 2, 3);

    assertRejected(() -> cpu.swigluForward(cpu.tensor("out", 3, 2), gate, up), "out", "[3, 2]");
    assertRejected(() -> cpu.swigluForward(cpu.tensor("out", 2, 3), cpu.tensor("g", 2, 4), up),
        "g", "[2, 4]", "[2, 3]");
    assertRejected(() -> cpu.swigluBackward(cpu.tensor("dGate", 2, 3), cpu.tensor("dUp", 6),
        cpu.tensor("dOut", 2, 3), gate, up), "dUp", "[6]");
  }

  @Test
  void float32StorageHoldsFloats() {
    try (CpuBackend f32 = new CpuBackend(Precision.FLOAT32, 2)) {
      Tensor gate = tensor(f32, "gate", GradCheck.random(1, 12, 3.0), 3, 4);
      Tensor up = tensor(f32, "up", GradCheck.random(2, 12, 3.0), 3, 4);
      Tensor out = f32.tensor("out", 3, 4);
      Tensor dGate = f32.tensor("dGate", 3, 4);
      Tensor dUp = f32.tensor("dUp", 3, 4);

      f32.swigluForward(out, gate, up);
      f32.swigluBackward(dGate, dUp, tensor(f32, "dOut", GradCheck.random(3, 12, 1.0), 3, 4),
          gate, up);

      for (Tensor t : new Tensor[] {out, dGate, dUp}) {
        assertFloatRepresentable(t.name(), f32.read(t));
      }
    }
  }
}
