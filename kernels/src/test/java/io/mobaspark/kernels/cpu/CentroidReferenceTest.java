package io.mobaspark.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.lab.CentroidParity;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The GPU centroid tests' float64 reference is BlockCentroids' definition, bit for bit. */
class CentroidReferenceTest {
  @Test
  void labReferenceEqualsBlockCentroids() {
    SeqLayout layout = SeqLayout.of(0, 1, 60, 61, 300);
    int kvHeads = 2;
    int dim = 8;
    double[] k = new Random(5).doubles(300 * kvHeads * dim).toArray();
    AttentionConfig config = AttentionConfig.moba(kvHeads, kvHeads, dim, 16, 2);
    try (Parallel parallel = new Parallel(2)) {
      double[] expected = BlockCentroids.compute(parallel, k, config, layout).values();
      assertArrayEquals(expected, CentroidParity.reference(k, kvHeads * dim, 16, layout));
    }
  }
}
