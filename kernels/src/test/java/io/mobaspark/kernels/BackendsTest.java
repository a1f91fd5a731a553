package io.mobaspark.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.cpu.CpuBackend;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@code auto}'s rule and the errors of {@link Backends#create}; no GPU needed. */
class BackendsTest {
  @Test
  void autoTakesTheCpuWithoutADevice() {
    Backends.AutoChoice choice = Backends.auto(false);
    assertEquals("cpu", choice.backend());
    assertTrue(choice.reason().contains("no CUDA device"), choice.reason());
  }

  @Test
  void autoTakesTheGpuWhenADeviceIsUsable() {
    assertEquals("cuda", Backends.auto(true).backend());
  }

  @Test
  void autoTakesTheCpuForAModelTheCudaKernelsRefuseAndSaysWhy() {
    Backends.AutoChoice choice = Backends.auto(true, Optional.of("head_dim 32 is not supported"));
    assertEquals("cpu", choice.backend());
    assertTrue(choice.reason().contains("cannot run this model: head_dim 32"), choice.reason());
    assertEquals("cuda", Backends.auto(true, Optional.empty()).backend());
  }

  @Test
  void cpuIsAlwaysThere() {
    try (Backend b = Backends.create("cpu", 1)) {
      assertTrue(b instanceof CpuBackend, b.description());
    }
  }

  @Test
  void unknownNamesAreRejected() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> Backends.create("tpu", 1)).getMessage();
    assertTrue(message.contains("auto, cpu or cuda") && message.contains("tpu"), message);
  }
}
