package io.mobaspark.kernels.cpu;

import static io.mobaspark.kernels.cpu.CpuTestTensors.assertRejected;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** MobaRouterCpu against a brute-force router written from MOBA.md, semantics 1-3. */
class MobaRouterCpuTest {
  private static CpuBackend backend;

  @BeforeAll
  static void open() {
    backend = new CpuBackend(Precision.FLOAT64, 2);
  }

  @AfterAll
  static void close() {
    backend.close();
  }

  /** N not a multiple of B, a 1-token document, GQA groups 2 and 4, topk 1, B 1, N 1 and 1023. */
  static Stream<Arguments> configs() {
    return Stream.of(
        Arguments.of(AttentionConfig.moba(2, 2, 8, 16, 3), SeqLayout.of(0, 113)),
        Arguments.of(AttentionConfig.moba(4, 2, 8, 8, 4), SeqLayout.of(0, 1, 50, 113)),
        Arguments.of(AttentionConfig.moba(4, 1, 4, 5, 2), SeqLayout.of(0, 64, 128)),
        Arguments.of(AttentionConfig.moba(1, 1, 4, 4, 1), SeqLayout.of(0, 30)),
        Arguments.of(AttentionConfig.moba(2, 1, 4, 1, 6), SeqLayout.of(0, 40)),
        Arguments.of(AttentionConfig.moba(2, 2, 4, 64, 2), SeqLayout.of(0, 1)),
        Arguments.of(AttentionConfig.moba(4, 4, 16, 32, 8), SeqLayout.of(0, 1023)));
  }

  @ParameterizedTest
  @MethodSource("configs")
  void matchesBruteForceRouter(AttentionConfig config, SeqLayout layout) {
    AttentionProblem p = new AttentionProblem(config, layout, 42);
    assertArrayEquals(bruteForce(p.q, p.k, config, layout), p.route(backend));
  }

  @Test
  void workedExampleFromDocs() {
    // docs/moba.md: B=2, topk=2, one head, D=1, keys 1, 3, -2, 0, 5, 1, 4 -> centroids 2, -1, 3, 4.
    AttentionConfig config = AttentionConfig.moba(1, 1, 1, 2, 2);
    AttentionProblem p = new AttentionProblem(config, SeqLayout.of(0, 7), 0);
    System.arraycopy(new double[] {1, 3, -2, 0, 5, 1, 4}, 0, p.k, 0, 7);
    System.arraycopy(new double[] {1, 1, 1, 1, 1, -1, -1}, 0, p.q, 0, 7);
    int[] expected = {
        0, -1, // t=0, block 0: nothing before it
        0, -1, // t=1
        0, 1, // t=2, block 1: block 0 is the only past block
        0, 1, // t=3
        0, 2, // t=4, block 2: q=1 scores block 0 at 2, block 1 at -1
        1, 2, // t=5: q=-1 scores block 0 at -2, block 1 at 1
        1, 3, // t=6, block 3 (partial): q=-1 scores blocks 0, 1, 2 at -2, 1, -3
    };
    assertArrayEquals(expected, p.route(backend));
  }

  @Test
  void exactTieGoesToTheHigherBlock() {
    // B=2, D=2: blocks 0 to 3 hold the same keys, so every query scores them exactly equally.
    AttentionConfig config = AttentionConfig.moba(1, 1, 2, 2, 3);
    AttentionProblem p = new AttentionProblem(config, SeqLayout.of(0, 10), 5);
    for (int t = 2; t < 8; t++) {
      p.k[2 * t] = p.k[2 * (t % 2)];
      p.k[2 * t + 1] = p.k[2 * (t % 2) + 1];
    }
    int[] routing = p.route(backend); // [1, 10, 3]
    int token = 6; // block 3: blocks 0, 1, 2 tie for two slots
    assertArrayEquals(new int[] {1, 2, 3}, Arrays.copyOfRange(routing, 3 * token, 3 * token + 3));
    token = 8; // block 4: blocks 0 to 3 tie for two slots
    assertArrayEquals(new int[] {2, 3, 4}, Arrays.copyOfRange(routing, 3 * token, 3 * token + 3));
  }

  @Test
  void routingOfWrongShapeIsRejected() {
    AttentionConfig config = AttentionConfig.moba(2, 1, 4, 4, 2);
    Tensor q = backend.tensor("q", 10, 2, 4);
    Tensor k = backend.tensor("k", 10, 1, 4);
    IntTensor routing = backend.intTensor("routing", 10, 2, 2); // [T, H, topk]: transposed
    assertRejected(() -> backend.mobaRoute(routing, q, k, config, SeqLayout.of(0, 10)),
        "routing", "[10, 2, 2]", "[2, 10, 2]");
  }

  @Test
  void nonMobaConfigIsRejected() {
    AttentionConfig dense = AttentionConfig.dense(2, 1, 4);
    IntTensor routing = backend.intTensor("routing", 2, 10, 1);
    Tensor q = backend.tensor("q", 10, 2, 4);
    Tensor k = backend.tensor("k", 10, 1, 4);
    assertRejected(() -> backend.mobaRoute(routing, q, k, dense, SeqLayout.of(0, 10)),
        "mobaRoute", "DENSE");
  }

  /**
   * Every score of every past block, sorted best first (score, then higher index), the first
   * topk-1 kept, the own block added, ascending, padded with -1.
   */
  private static int[] bruteForce(double[] q, double[] k, AttentionConfig c, SeqLayout layout) {
    int tokens = layout.totalTokens();
    int dim = c.headDim();
    int[] routing = new int[c.heads() * tokens * c.topk()];
    for (int s = 0; s < layout.sequences(); s++) {
      int start = layout.start(s);
      for (int h = 0; h < c.heads(); h++) {
        int g = h / c.groupSize();
        for (int pos = 0; pos < layout.length(s); pos++) {
          int own = pos / c.blockSize();
          List<double[]> candidates = new ArrayList<>(); // {score, block}
          for (int j = 0; j < own; j++) { // a past block is always whole
            double[] centroid = new double[dim];
            for (int key = j * c.blockSize(); key < (j + 1) * c.blockSize(); key++) {
              for (int d = 0; d < dim; d++) {
                centroid[d] += k[((start + key) * c.kvHeads() + g) * dim + d];
              }
            }
            double score = 0;
            for (int d = 0; d < dim; d++) {
              score += q[((start + pos) * c.heads() + h) * dim + d] * (centroid[d] / c.blockSize());
            }
            candidates.add(new double[] {score, j});
          }
          candidates.sort(MobaRouterCpuTest::bestFirst);
          int[] row = new int[c.topk()];
          Arrays.fill(row, Integer.MAX_VALUE);
          int kept = Math.min(c.topk() - 1, candidates.size());
          for (int i = 0; i < kept; i++) {
            row[i] = (int) candidates.get(i)[1];
          }
          row[kept] = own;
          Arrays.sort(row);
          for (int i = kept + 1; i < row.length; i++) {
            row[i] = -1;
          }
          System.arraycopy(row, 0, routing, (h * tokens + start + pos) * c.topk(), c.topk());
        }
      }
    }
    return routing;
  }

  /** Higher score first; equal scores put the higher block index first (the tie rule). */
  private static int bestFirst(double[] a, double[] b) {
    if (a[0] != b[0]) {
      return a[0] > b[0] ? -1 : 1;
    }
    return Double.compare(b[1], a[1]);
  }
}
