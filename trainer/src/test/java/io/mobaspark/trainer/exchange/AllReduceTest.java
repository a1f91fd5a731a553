package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The numbers of both kinds at 2, 3 and 4 ranks, with buckets that cut across buffers. */
class AllReduceTest {
  /** Sizes with an empty buffer and a single element, so 4-element buckets straddle boundaries. */
  private static final int[] SIZES = {5, 1, 0, 7, 3};
  private static final int TIMEOUT_MS = 20_000;

  static Stream<Arguments> worlds() {
    List<Arguments> worlds = new ArrayList<>();
    for (ExchangeSpec.Kind kind : List.of(ExchangeSpec.Kind.DRIVER, ExchangeSpec.Kind.RING)) {
      for (int ranks = 2; ranks <= 4; ranks++) {
        worlds.add(Arguments.of(kind, ranks));
      }
    }
    return worlds.stream();
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("worlds")
  void smallIntegerSumsAndMeansAreExactOverSeveralSteps(ExchangeSpec.Kind kind, int ranks)
      throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(kind, ranks, 16, WireDType.FP32, TIMEOUT_MS);
    List<List<double[]>> results = LoopbackRanks.run(spec, exchange -> {
      List<double[]> perStep = new ArrayList<>();
      for (int step = 1; step <= 2; step++) {
        List<float[]> buffers = integerBuffers(exchange.rank(), step);
        exchange.allReduceMean(step, buffers);
        perStep.add(flatten(buffers));
      }
      return perStep;
    });
    for (int step = 1; step <= 2; step++) {
      double[] sum = new double[flatten(integerBuffers(0, step)).length];
      for (int r = 0; r < ranks; r++) {
        double[] mine = flatten(integerBuffers(r, step));
        for (int i = 0; i < sum.length; i++) {
          sum[i] += mine[i];
        }
      }
      double[] mean = sum.clone();
      for (int i = 0; i < mean.length; i++) {
        mean[i] /= ranks;
        // The mean of (r + 1) * k over r is k (ranks + 1) / 2: a half-integer, exact in fp32.
        assertEquals(sum[i], mean[i] * ranks, 0, "sum of element " + i);
      }
      for (int r = 0; r < ranks; r++) {
        assertArrayEquals(mean, results.get(r).get(step - 1), 0, "rank " + r + ", step " + step);
      }
    }
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("worlds")
  void bf16WireIsWithinBf16ToleranceAndTheSameOnEveryRank(ExchangeSpec.Kind kind, int ranks)
      throws Exception {
    List<double[]> results = randomMeans(kind, ranks, 64, WireDType.BF16);
    double[] exact = exactMean(ranks);
    double[] magnitude = new double[exact.length];
    for (int r = 0; r < ranks; r++) {
      double[] mine = flatten(randomBuffers(r));
      for (int i = 0; i < exact.length; i++) {
        magnitude[i] += Math.abs(mine[i]);
      }
    }
    for (int i = 0; i < exact.length; i++) {
      double got = results.get(0)[i];
      // Each of at most N roundings of a partial sum errs by 2^-9 of it: at most 2^-9 sum |v|.
      assertEquals(exact[i], got, Math.scalb(magnitude[i], -8), "element " + i);
      assertEquals(WireDType.BF16.round(got), got, 0, "element " + i + " is a bf16 value");
    }
    for (int r = 1; r < ranks; r++) {
      assertArrayEquals(results.get(0), results.get(r), 0, "rank " + r + " agrees with rank 0");
    }
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("worlds")
  void fp32WireMatchesTheExactMeanWithinFloatTolerance(ExchangeSpec.Kind kind, int ranks)
      throws Exception {
    List<double[]> results = randomMeans(kind, ranks, 12, WireDType.FP32);
    double[] exact = exactMean(ranks);
    for (int r = 0; r < ranks; r++) {
      for (int i = 0; i < exact.length; i++) {
        assertEquals(exact[i], results.get(r)[i], 1e-6 * (1 + Math.abs(exact[i])),
            "rank " + r + ", element " + i);
      }
      assertArrayEquals(results.get(0), results.get(r), 0, "rank " + r + " agrees with rank 0");
    }
    assertTrue(results.get(0).length > 3 * 3, "several buckets");
  }

  /** Every rank's flattened result of one exchange of {@link #randomBuffers}. */
  private static List<double[]> randomMeans(ExchangeSpec.Kind kind, int ranks, int bucketBytes,
      WireDType wire) throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(kind, ranks, bucketBytes, wire, TIMEOUT_MS);
    return LoopbackRanks.run(spec, exchange -> {
      List<float[]> buffers = randomBuffers(exchange.rank());
      exchange.allReduceMean(3, buffers);
      return flatten(buffers);
    });
  }

  /** Rank r's buffers at a step: element k (flat) is (r + 1) * (k + step). */
  private static List<float[]> integerBuffers(int rank, int step) {
    List<float[]> buffers = new ArrayList<>();
    int k = 0;
    for (int size : SIZES) {
      float[] b = new float[size];
      for (int i = 0; i < size; i++) {
        b[i] = (rank + 1) * (k++ + step);
      }
      buffers.add(b);
    }
    return buffers;
  }

  private static List<float[]> randomBuffers(int rank) {
    SplittableRandom random = new SplittableRandom(1234 + rank);
    List<float[]> buffers = new ArrayList<>();
    for (int size : new int[] {37, 0, 1, 100, 13}) {
      float[] b = new float[size];
      for (int i = 0; i < size; i++) {
        b[i] = (float) ((random.nextDouble() - 0.5) * Math.scalb(1.0, random.nextInt(-10, 10)));
      }
      buffers.add(b);
    }
    return buffers;
  }

  private static double[] exactMean(int ranks) {
    double[] mean = null;
    for (int r = 0; r < ranks; r++) {
      double[] mine = flatten(randomBuffers(r));
      if (mean == null) {
        mean = new double[mine.length];
      }
      for (int i = 0; i < mine.length; i++) {
        mean[i] += mine[i] / ranks;
      }
    }
    return mean;
  }

  /** The buffers end to end, widened to double for the checks. */
  static double[] flatten(List<float[]> buffers) {
    double[] flat = new double[buffers.stream().mapToInt(b -> b.length).sum()];
    int at = 0;
    for (float[] b : buffers) {
      for (float v : b) {
        flat[at++] = v;
      }
    }
    return flat;
  }
}
