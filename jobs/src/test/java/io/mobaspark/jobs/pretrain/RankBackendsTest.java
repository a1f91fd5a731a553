package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Backend;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RankBackendsTest {

  @Test
  void aCpuRankGetsItsThreadsWhateverItsGpu() {
    try (Backend backend = RankBackends.create("cpu", Optional.of("3"), 2, Optional.empty())) {
      assertEquals("cpu(float32, 2 threads)", backend.description());
    }
  }

  @Test
  void aNegativeOrdinalIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RankBackends.create("cpu", Optional.of("-1"), 1, Optional.empty()));
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }

  @Test
  void aGpuAddressThatIsNotAnOrdinalIsRefusedNamingIt() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RankBackends.create("cpu", Optional.of("GPU-5f3c"), 1, Optional.empty()));
    assertTrue(e.getMessage().contains("'GPU-5f3c'")
        && e.getMessage().contains("spark.executor.resource.gpu.discoveryScript"), e.getMessage());
  }
}
