package io.mobaspark.kernels.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ProfilingBackendTest {

  @Test
  void timesEachOpByNameAndShapeWithoutChangingItsResult() {
    AtomicInteger syncs = new AtomicInteger();
    try (ProfilingBackend b = new ProfilingBackend(new CpuBackend(Precision.FLOAT64, 1),
        syncs::incrementAndGet)) {
      Tensor a = b.tensor("a", 2, 3);
      Tensor w = b.tensor("w", 4, 3);
      Tensor out = b.tensor("out", 2, 4);
      b.write(a, new double[] {1, 2, 3, 4, 5, 6});
      b.write(w, new double[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1});
      b.matmul(out, a, w, false, true, false);
      assertArrayEquals(new double[] {1, 2, 3, 6, 4, 5, 6, 15}, b.read(out));
      assertEquals(1, b.totals().get("matmul [2,3] [4,3]T")[1]);
      assertEquals(2, b.totals().get("write")[1]);
      assertEquals(2 * 4, syncs.get(), "each timed op is bracketed by two synchronizations");

      b.reset();
      b.enabled(false);
      b.matmul(out, a, w, false, true, true);
      assertTrue(b.totals().isEmpty());
      assertEquals(8, syncs.get());
      assertArrayEquals(new double[] {2, 4, 6, 12, 8, 10, 12, 30}, b.read(out));
      assertTrue(b.table(1).contains("total"));
    }
  }
}
