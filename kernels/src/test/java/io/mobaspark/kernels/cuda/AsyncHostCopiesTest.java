package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mobaspark.kernels.HostCopy;
import io.mobaspark.kernels.Tensor;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** CudaBackend.readFloatsLater: copies on the copy stream that wait for the compute stream. */
class AsyncHostCopiesTest {
  private static CudaBackend gpu;

  @BeforeAll
  static void open() {
    if (CudaDevice.available()) {
      gpu = new CudaBackend(0);
    }
  }

  /** Per test, so that each one is reported as skipped. */
  @BeforeEach
  void requireDevice() {
    assumeTrue(gpu != null, "no CUDA device");
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
    }
  }

  @Test
  void theCopySeesTheKernelsQueuedBeforeItAndLandsWhenAwaitedOnAnotherThread() {
    // 16M and 1001 floats: the scale of the large one is still running when the copy is queued.
    // The work queued after the copy writes another tensor: the copied ones may not be written
    // before the copy is awaited (Backend.readFloatsLater), so nothing orders such a write.
    Tensor big = gpu.fp32Tensor("big", 4096, 4096);
    Tensor odd = gpu.fp32Tensor("odd", 7, 143);
    Tensor other = gpu.fp32Tensor("other", 4096, 4096);
    float[] bigValues = random(16 << 20, 1);
    float[] oddValues = random(1001, 2);
    for (int round = 0; round < 2; round++) {
      gpu.write(big, bigValues);
      gpu.write(odd, oddValues);
      gpu.scale(big, 2.0);
      gpu.scale(odd, -0.5);
      float[] bigOut = new float[bigValues.length];
      float[] oddOut = new float[oddValues.length];
      HostCopy copy = gpu.readFloatsLater(List.of(big, odd), List.of(bigOut, oddOut));
      gpu.scale(other, 3.0); // runs beside the copy
      CompletableFuture.runAsync(copy::await).join();
      copy.await(); // a second await returns at once
      assertArrayEquals(times(bigValues, 2.0), bigOut, "round " + round);
      assertArrayEquals(times(oddValues, -0.5), oddOut, "round " + round);
      assertArrayEquals(times(bigValues, 2.0), gpu.readFloats(big), "round " + round);
    }
    assertEquals(4L * (16 << 20) + 4L * 1001, gpu.pinnedHostBytes(), "reused, not grown");
    big.close();
    odd.close();
    other.close();
  }

  @Test
  void bf16TensorsAreCopiedAtOnceAndSizesAreChecked() {
    Tensor act = gpu.tensor("act", 3, 5); // bf16 on the GPU
    float[] values = {1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f};
    gpu.write(act, values);
    float[] out = new float[15];
    gpu.readFloatsLater(List.of(act), List.of(out)).await();
    assertArrayEquals(values, out);
    assertThrows(IllegalArgumentException.class,
        () -> gpu.readFloatsLater(List.of(act), List.of(new float[14])));
    assertThrows(IllegalArgumentException.class,
        () -> gpu.readFloatsLater(List.of(act), List.of()));
    act.close();
  }

  private static float[] random(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  /** The CUDA scale's rounding: the product in double, rounded once to float. */
  private static float[] times(float[] v, double factor) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) (v[i] * factor);
    }
    return out;
  }
}
