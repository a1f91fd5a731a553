package io.mobaspark.trainer.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GradientClippingTest {
  private final CpuBackend backend = new CpuBackend(Precision.FLOAT64, 2);
  private final Parameter a = parameter("a", 3.0, 0.0);
  private final Parameter b = parameter("b", 0.0, 4.0);
  private final List<Parameter> both = List.of(a, b);

  @AfterEach
  void close() {
    backend.close();
  }

  @Test
  void theNormSpansAllGradients() {
    assertEquals(5.0, GradientClipping.globalNorm(backend, both), 1e-15);
  }

  @Test
  void theFactorIsTheThresholdOverTheNormOrExactlyOne() {
    assertEquals(0.2, GradientClipping.factor(5.0, 1.0), 1e-15);
    assertEquals(1.0, GradientClipping.factor(5.0, 5.0), 0);
    assertEquals(1.0, GradientClipping.factor(5.0, 0.0), 0);
  }

  private Parameter parameter(String name, double g0, double g1) {
    Parameter p = new Parameter(name, backend.tensor(name, 2), backend.tensor(name + ".grad", 2),
        true);
    backend.write(p.grad(), new double[] {g0, g1});
    return p;
  }
}
