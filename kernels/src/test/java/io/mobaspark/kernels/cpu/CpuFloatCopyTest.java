package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import org.junit.jupiter.api.Test;

/** The float host copies the gradient exchange uses. */
class CpuFloatCopyTest {

  @Test
  void floatsRoundTripAndDoublesAreRoundedToFloat() {
    try (CpuBackend b = new CpuBackend(Precision.FLOAT64, 1)) {
      Tensor t = b.tensor("g", 3);
      b.write(t, new float[] {1.5f, -2f, 0.1f});
      assertArrayEquals(new double[] {1.5, -2, (double) 0.1f}, b.read(t));
      b.write(t, new double[] {0.1, 1e-50, 3});
      assertArrayEquals(new float[] {0.1f, 0f, 3f}, b.readFloats(t));
      assertThrows(IllegalArgumentException.class, () -> b.write(t, new float[2]));
      float[] kept = {7f, 7f, 7f};
      b.readFloats(t, kept);
      assertArrayEquals(new float[] {0.1f, 0f, 3f}, kept, "into the caller's array");
      assertThrows(IllegalArgumentException.class, () -> b.readFloats(t, new float[4]));
    }
  }
}
