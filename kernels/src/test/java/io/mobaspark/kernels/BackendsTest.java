package io.mobaspark.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.cpu.CpuBackend;
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
