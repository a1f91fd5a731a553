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

/** The numbers of every kind at 2, 3 and 4 ranks, with buckets that cut across buffers. */
class AllReduceTest {
  /** Sizes with an empty buffer and a single element, so 4-element buckets straddle boundaries. */
  private static final int[] SIZES = {5, 1, 0, 7, 3};
  /** Random gradients: an empty buffer, a single element, and buckets of a few elements. */
  private static final int[] RANDOM_SIZES = {37, 0, 1, 100, 13};
  /** Big enough that a ring chunk spans several socket calls of PeerChannel.SLICE_BYTES. */
  private static final int[] LARGE_SIZES = {150_001, 0, 1, 270_003};
  private static final int TIMEOUT_MS = 20_000;

  static Stream<Arguments> worlds() {
    return worldsOf(ExchangeSpec.Kind.DRIVER, ExchangeSpec.Kind.RING, ExchangeSpec.Kind.SHARED);
  }

  /** The kinds that reach peers on other hosts. */
  static Stream<Arguments> networkWorlds() {
    return worldsOf(ExchangeSpec.Kind.DRIVER, ExchangeSpec.Kind.RING);
  }

  private static Stream<Arguments> worldsOf(ExchangeSpec.Kind... kinds) {
    List<Arguments> worlds = new ArrayList<>();
    for (ExchangeSpec.Kind kind : kinds) {
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
    List<double[]> results = randomMeans(kind, ranks, 64, WireDType.BF16, RANDOM_SIZES);
    double[] exact = exactMean(ranks, RANDOM_SIZES);
    double[] magnitude = magnitudes(ranks, RANDOM_SIZES);
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
    List<double[]> results = randomMeans(kind, ranks, 12, WireDType.FP32, RANDOM_SIZES);
    assertNearExactMean(results, exactMean(ranks, RANDOM_SIZES));
    assertTrue(results.get(0).length > 3 * 3, "several buckets");
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("worlds")
  void megabyteBucketsStreamThroughManySocketCalls(ExchangeSpec.Kind kind, int ranks)
      throws Exception {
    // 1 MiB buckets (262,144 elements) over 420,005 elements: two buckets, the second short, both
    // cutting across buffers; every frame spans several slices, most runs end mid-slice.
    List<double[]> results = randomMeans(kind, ranks, 1 << 20, WireDType.FP32, LARGE_SIZES);
    double[] exact = exactMean(ranks, LARGE_SIZES);
    double[] magnitude = magnitudes(ranks, LARGE_SIZES);
    for (int i = 0; i < exact.length; i++) {
      // The ring rounds each partial sum to float: N roundings of at most 2^-24 of sum |v|. (Over
      // 420,005 elements some cancel far below their terms, beyond the relative 1e-6 used above.)
      assertEquals(exact[i], results.get(0)[i], Math.scalb(magnitude[i], -22), "element " + i);
    }
    for (int r = 1; r < ranks; r++) {
      assertArrayEquals(results.get(0), results.get(r), 0, "rank " + r + " agrees with rank 0");
    }
  }

  /** Element-wise sum of |v| over the ranks' {@link #randomBuffers}. */
  private static double[] magnitudes(int ranks, int[] sizes) {
    double[] magnitude = new double[flatten(randomBuffers(0, sizes)).length];
    for (int r = 0; r < ranks; r++) {
      double[] mine = flatten(randomBuffers(r, sizes));
      for (int i = 0; i < magnitude.length; i++) {
        magnitude[i] += Math.abs(mine[i]);
      }
    }
    return magnitude;
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("networkWorlds")
  void peersOnOtherHostsGetTheSameBitsOverTcp(ExchangeSpec.Kind kind, int ranks)
      throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(kind, ranks, 1 << 20, WireDType.BF16, TIMEOUT_MS);
    List<double[]> local = LoopbackRanks.run(spec, exchange -> exchangeOf(exchange, LARGE_SIZES));
    // Ranks alternate between two loopback hosts: odd ranks reach the driver (on 127.0.0.1), and
    // ring neighbours on the other host, by TCP; the others through the local sockets.
    List<double[]> mixed = LoopbackRanks.run(spec, rank -> "127.0.0." + (1 + rank % 2),
        exchange -> exchangeOf(exchange, LARGE_SIZES));
    for (int r = 0; r < ranks; r++) {
      assertArrayEquals(local.get(r), mixed.get(r), 0, "rank " + r);
    }
  }

  private static double[] exchangeOf(GradientExchange exchange, int[] sizes) {
    List<float[]> buffers = randomBuffers(exchange.rank(), sizes);
    exchange.allReduceMean(3, buffers);
    return flatten(buffers);
  }

  /** fp32 tolerance of the exact mean, and every rank bit for bit the same. */
  private static void assertNearExactMean(List<double[]> results, double[] exact) {
    for (int r = 0; r < results.size(); r++) {
      for (int i = 0; i < exact.length; i++) {
        assertEquals(exact[i], results.get(r)[i], 1e-6 * (1 + Math.abs(exact[i])),
            "rank " + r + ", element " + i);
      }
      assertArrayEquals(results.get(0), results.get(r), 0, "rank " + r + " agrees with rank 0");
    }
  }

  /** Every rank's flattened result of one exchange of {@link #randomBuffers}. */
  private static List<double[]> randomMeans(ExchangeSpec.Kind kind, int ranks, int bucketBytes,
      WireDType wire, int[] sizes) throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(kind, ranks, bucketBytes, wire, TIMEOUT_MS);
    return LoopbackRanks.run(spec, exchange -> exchangeOf(exchange, sizes));
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

  static List<float[]> randomBuffers(int rank, int[] sizes) {
    SplittableRandom random = new SplittableRandom(1234 + rank);
    List<float[]> buffers = new ArrayList<>();
    for (int size : sizes) {
      float[] b = new float[size];
      for (int i = 0; i < size; i++) {
        b[i] = (float) ((random.nextDouble() - 0.5) * Math.scalb(1.0, random.nextInt(-10, 10)));
      }
      buffers.add(b);
    }
    return buffers;
  }

  private static double[] exactMean(int ranks, int[] sizes) {
    double[] mean = null;
    for (int r = 0; r < ranks; r++) {
      double[] mine = flatten(randomBuffers(r, sizes));
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
