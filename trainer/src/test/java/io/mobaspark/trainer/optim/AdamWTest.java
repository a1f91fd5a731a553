package io.mobaspark.trainer.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdamWTest {
  private final CpuBackend backend = new CpuBackend(Precision.FLOAT64, 2);

  @AfterEach
  void close() {
    backend.close();
  }

  @Test
  void weightDecayAppliesOnlyToDecayParameters() {
    Parameter matrix = parameter("w", true, 2.0, 2.0);
    Parameter gain = parameter("norm", false, 2.0, 2.0);
    try (AdamW adamw = new AdamW(backend, List.of(matrix, gain), 0.9, 0.95, 1e-8, 0.1)) {
      adamw.step(0.01, 1);
    }
    // Zero gradient: the Adam term is 0, only the decoupled decay lr * wd * param moves a weight.
    assertArrayEquals(new double[] {2.0 - 0.01 * 0.1 * 2.0, 2.0 - 0.01 * 0.1 * 2.0},
        backend.read(matrix.value()), 1e-15);
    assertArrayEquals(new double[] {2.0, 2.0}, backend.read(gain.value()), 0);
  }

  @Test
  void theFirstStepMovesEachWeightByAboutLrAgainstItsGradient() {
    Parameter p = parameter("w", false, 1.0, 3.0);
    backend.write(p.grad(), new double[] {0.5, -2.0});
    try (AdamW adamw = new AdamW(backend, List.of(p), 0.9, 0.95, 1e-8, 0.0)) {
      adamw.step(0.1, 1);
      // Bias-corrected first step: mhat / sqrt(vhat) = sign(g).
      assertArrayEquals(new double[] {0.9, 3.1}, backend.read(p.value()), 1e-6);
      assertArrayEquals(new double[] {0.05, -0.2},
          backend.read(adamw.state().get("exp_avg.w")), 1e-15);
      assertArrayEquals(new double[] {0.05 * 0.25, 0.05 * 4.0},
          backend.read(adamw.state().get("exp_avg_sq.w")), 1e-15);
    }
  }

  @Test
  void aGradScaleIsTheClippingScaleBeforeTheStep() {
    Parameter folded = parameter("a", true, 1.0, 3.0);
    Parameter separate = parameter("b", true, 1.0, 3.0);
    for (Parameter p : List.of(folded, separate)) {
      backend.write(p.grad(), new double[] {0.5, -2.0});
    }
    try (AdamW one = new AdamW(backend, List.of(folded), 0.9, 0.95, 1e-8, 0.1);
        AdamW two = new AdamW(backend, List.of(separate), 0.9, 0.95, 1e-8, 0.1)) {
      one.step(0.1, 1, 0.25);
      backend.scale(separate.grad(), 0.25);
      two.step(0.1, 1);
    }
    assertArrayEquals(backend.read(separate.value()), backend.read(folded.value()), 0);
    assertArrayEquals(new double[] {0.125, -0.5}, backend.read(folded.grad()), 0);
  }

  @Test
  void stateIsNamedLikePyTorch() {
    Parameter a = parameter("a.weight", true, 0, 0);
    Parameter b = parameter("b.weight", false, 0, 0);
    try (AdamW adamw = new AdamW(backend, List.of(a, b), 0.9, 0.95, 1e-8, 0.1)) {
      assertEquals(List.of("exp_avg.a.weight", "exp_avg.b.weight", "exp_avg_sq.a.weight",
          "exp_avg_sq.b.weight"), List.copyOf(adamw.state().keySet()));
    }
  }

  @Test
  void rejectsInvalidHyperparameters() {
    List<Parameter> one = List.of(parameter("w", true, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new AdamW(backend, one, 1.0, 0.95, 1e-8, 0));
    assertThrows(IllegalArgumentException.class, () -> new AdamW(backend, one, 0.9, 0.95, 0, 0));
    assertThrows(IllegalArgumentException.class, () -> new AdamW(backend, List.of(), 0.9, 0.95, 1e-8, 0));
  }

  private Parameter parameter(String name, boolean decay, double v0, double v1) {
    Parameter p = new Parameter(name, backend.tensor(name, 2), backend.tensor(name + ".grad", 2),
        decay);
    backend.write(p.value(), new double[] {v0, v1});
    return p;
  }
}
