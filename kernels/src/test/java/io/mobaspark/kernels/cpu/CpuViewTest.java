package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import org.junit.jupiter.api.Test;

class CpuViewTest {

  @Test
  void aViewSharesTheElementsInRowMajorOrder() {
    try (CpuBackend b = new CpuBackend(Precision.FLOAT32, 1)) {
      Tensor heads = b.tensor("q", 2, 3, 2); // [T, H, D]
      b.write(heads, new double[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
      Tensor flat = b.view(heads, "q.flat", 2, 6);
      assertArrayEquals(b.read(heads), b.read(flat));
      b.scale(flat, 2);
      assertArrayEquals(new double[] {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, b.read(heads));
      flat.close(); // frees nothing: the tensor it views stays readable
      assertArrayEquals(new double[] {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, b.read(heads));
    }
  }

  @Test
  void aViewOfAnotherSizeIsRefusedNamingIt() {
    try (CpuBackend b = new CpuBackend(Precision.FLOAT32, 1)) {
      Tensor t = b.tensor("k", 4, 2);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> b.view(t, "k.flat", 3, 3));
      assertTrue(e.getMessage().contains("k.flat") && e.getMessage().contains("expected 8"),
          e.getMessage());
    }
  }
}
