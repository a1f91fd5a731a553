package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Backends;
import io.mobaspark.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

class CudaBackendSelectionTest {
  @Test
  void autoFallsBackToTheCpuWithoutADevice() {
    assumeFalse(CudaDevice.available(), "a CUDA device is present");
    try (Backend b = Backends.create("auto", 1)) {
      assertTrue(b instanceof CpuBackend, b.description());
    }
  }

  @Test
  void cudaWithoutADeviceSaysSo() {
    assumeFalse(CudaDevice.available(), "a CUDA device is present");
    String message = assertThrows(IllegalArgumentException.class,
        () -> Backends.create("cuda", 1)).getMessage();
    assertTrue(message.contains("no CUDA device is usable"), message);
  }

  @Test
  void autoPicksCudaOnAGpu() {
    assumeTrue(CudaDevice.available(), "no CUDA device");
    try (Backend b = Backends.create("auto", 1)) {
      assertTrue(b instanceof CudaBackend, b.description());
    }
  }

  @Test
  void cudaStaysAvailableExplicitly() {
    assumeTrue(CudaDevice.available(), "no CUDA device");
    try (Backend b = Backends.create("cuda", 1)) {
      assertTrue(b instanceof CudaBackend, b.description());
    }
  }
}
