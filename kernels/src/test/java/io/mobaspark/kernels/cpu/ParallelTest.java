package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.testing.GradCheck;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {

  @Test
  void forRangeVisitsEveryIndexExactlyOnce() {
    for (int threads : new int[] {1, 3}) {
      try (Parallel p = new Parallel(threads)) {
        for (int n : new int[] {0, 1, 7, 1000}) {
          AtomicIntegerArray visits = new AtomicIntegerArray(n);
          p.forRange(n, 5, (start, end) -> {
            for (int i = start; i < end; i++) {
              visits.incrementAndGet(i);
            }
          });
          for (int i = 0; i < n; i++) {
            assertEquals(1, visits.get(i), "threads=" + threads + " n=" + n + " index " + i);
          }
        }
      }
    }
  }

  /** Many values of wildly different magnitude: any change of summation order shows in the bits. */
  @Test
  void sumIsBitwiseIndependentOfThreadCount() {
    int n = 100_003;
    double[] values = GradCheck.random(1, n, 1.0);
    for (int i = 0; i < n; i += 7) {
      values[i] *= 1e12;
    }
    double[] sums = new double[4];
    for (int threads = 1; threads <= 4; threads++) {
      try (Parallel p = new Parallel(threads)) {
        sums[threads - 1] = p.sum(n, (start, end) -> {
          double s = 0;
          for (int i = start; i < end; i++) {
            s += values[i];
          }
          return s;
        });
      }
    }
    for (int t = 1; t < 4; t++) {
      assertEquals(sums[0], sums[t], 0.0, (t + 1) + " threads");
    }
  }

  @Test
  void sumOfNothingIsZero() {
    try (Parallel p = new Parallel(2)) {
      assertEquals(0.0, p.sum(0, (start, end) -> 1.0 * (end - start)), 0.0);
    }
  }

  /**
   * The caller sees the worker's exception type and message; ForkJoinPool may hand back a copy that
   * carries the original as its cause, so the test accepts either.
   */
  @Test
  void workerExceptionsReachTheCaller() {
    IllegalStateException boom = new IllegalStateException("boom");
    try (Parallel p = new Parallel(2)) {
      IllegalStateException thrown = assertThrows(IllegalStateException.class,
          () -> p.forRange(100, 1, (start, end) -> {
            throw boom;
          }));
      assertTrue(thrown == boom || thrown.getCause() == boom, thrown.toString());
      assertTrue(thrown.getMessage().contains("boom"), thrown.getMessage());
    }
  }

  @Test
  void threadCountMustBePositive() {
    assertThrows(IllegalArgumentException.class, () -> new Parallel(0));
  }
}
