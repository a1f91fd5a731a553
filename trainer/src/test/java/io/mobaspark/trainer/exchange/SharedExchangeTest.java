package io.mobaspark.trainer.exchange;

import static io.mobaspark.trainer.exchange.AuthenticationTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@code shared} kind: the driver's bits, one host only, the run secret, ranks that leave or
 * hang, and no files left behind. (AllReduceTest and the data-parallel tests cover its numbers
 * beside the other kinds.)
 */
class SharedExchangeTest {
  private static final int[] SIZES = {37, 0, 1, 100, 13, 4099};
  private static final int HANG_MS = 2000;
  private static final List<float[]> ONE = List.of(new float[] {1, 2, 3});

  static Stream<Arguments> worlds() {
    List<Arguments> worlds = new ArrayList<>();
    for (WireDType wire : WireDType.values()) {
      for (int ranks = 2; ranks <= 4; ranks++) {
        worlds.add(Arguments.of(wire, ranks));
      }
    }
    return worlds.stream();
  }

  @AfterEach
  void noFilesAreLeftBehind() throws Exception {
    for (Path parent : List.of(Path.of("/dev/shm"), Path.of(System.getProperty("java.io.tmpdir")))) {
      if (Files.isDirectory(parent)) {
        String mine = LocalListener.PREFIX + "pid" + ProcessHandle.current().pid() + "-";
        try (Stream<Path> children = Files.list(parent)) {
          List<Path> left = children.filter(p -> p.getFileName().toString().startsWith(mine))
              .toList();
          assertEquals(List.of(), left, "folders of this process left in " + parent);
        }
      }
    }
  }

  @ParameterizedTest(name = "{0} with {1} ranks")
  @MethodSource("worlds")
  void theMeansAreTheDriversBitForBitOverSeveralStepsAndBuckets(WireDType wire, int ranks)
      throws Exception {
    // 64-element buckets: 67 buckets per step, so both slots are reused many times.
    List<List<double[]>> driver = steps(LoopbackRanks.spec(ExchangeSpec.Kind.DRIVER, ranks, 256,
        wire, 20_000));
    List<List<double[]>> shared = steps(LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, ranks, 256,
        wire, 20_000));
    for (int r = 0; r < ranks; r++) {
      for (int step = 0; step < 3; step++) {
        assertArrayEquals(driver.get(0).get(step), shared.get(r).get(step), 0,
            "rank " + r + ", step " + (step + 1));
      }
    }
  }

  @Test
  void severalCopyThreadsPerRankGiveTheSameBits() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 3, 256, WireDType.FP32,
        20_000);
    List<List<double[]>> one = steps(spec);
    // 3 threads per phase: parts of 21 or 22 elements of a 64-element bucket, cutting across
    // slices (of 21, 21 and 22) and across the caller's buffers.
    List<List<double[]>> three = LoopbackRanks.runRanks(3, (rank, board) -> {
      try (GradientExchange exchange = SharedExchange.join(spec, rank, "127.0.0.1",
          board.forRank(rank), 3)) {
        return threeSteps(exchange);
      }
    });
    for (int r = 0; r < 3; r++) {
      for (int step = 0; step < 3; step++) {
        assertArrayEquals(one.get(0).get(step), three.get(r).get(step), 0,
            "rank " + r + ", step " + (step + 1));
      }
    }
  }

  /** Every rank's flat result of steps 1..3, whose gradients differ per step. */
  private static List<List<double[]>> steps(ExchangeSpec spec) throws Exception {
    return LoopbackRanks.run(spec, SharedExchangeTest::threeSteps);
  }

  private static List<double[]> threeSteps(GradientExchange exchange) {
    List<double[]> perStep = new ArrayList<>();
    for (int step = 1; step <= 3; step++) {
      List<float[]> buffers = AllReduceTest.randomBuffers(exchange.rank() + 10 * step, SIZES);
      exchange.allReduceMean(step, buffers);
      perStep.add(AllReduceTest.flatten(buffers));
    }
    return perStep;
  }

  @Test
  void ranksOnSeveralHostsAreRefusedNamingTheHosts() {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 3, 16, WireDType.FP32,
        10_000);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LoopbackRanks.run(spec, rank -> rank == 2 ? "127.0.0.2" : "127.0.0.1",
            exchange -> null));
    assertContains(e.getMessage(), "exchange.kind = shared needs all 3 ranks on one host, but "
        + "they are on 2 hosts (rank 0: 127.0.0.1, rank 1: 127.0.0.1, rank 2: 127.0.0.2); use "
        + "ring or driver across hosts");
  }

  @Test
  void aWrongSecretIsRefusedAndTheRealRankStillJoins() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 2, 16, WireDType.FP32,
        10_000);
    ExchangeSpec forged = AuthenticationTest.with(spec, AuthenticationTest.WRONG, 16);
    CountDownLatch offered = new CountDownLatch(1);
    String[] zeroOffer = new String[1];
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try {
      Future<float[]> rank0 = threads.submit(() -> {
        try (GradientExchange exchange = GradientExchanges.open(spec, 0, "127.0.0.1", own -> {
          zeroOffer[0] = own;
          offered.countDown();
          return List.of(own, "127.0.0.1");
        })) {
          float[] values = {1, 10};
          exchange.allReduceMean(1, List.of(values));
          return values;
        }
      });
      assertTrue(offered.await(10, TimeUnit.SECONDS));
      Path socket = Path.of(zeroOffer[0].substring(zeroOffer[0].indexOf(" local=") + 7));
      try (PeerChannel intruder = PeerChannel.connectLocal(socket, "127.0.0.1", "rank 1",
          "rank 0", forged)) {
        ExchangeException e = assertThrows(ExchangeException.class,
            () -> Handshake.client(intruder, forged, 1, 0));
        assertContains(e.getMessage(), "refused the connection: rank 0: refused rank 1 at the "
            + "local socket", "authentication failed (its run secret differs)");
      }
      float[] values = {3, 20};
      try (GradientExchange exchange = GradientExchanges.open(spec, 1, "127.0.0.1",
          own -> List.of(zeroOffer[0], own))) {
        exchange.allReduceMean(1, List.of(values));
      }
      assertArrayEquals(new float[] {2, 15}, rank0.get(10, TimeUnit.SECONDS), 0);
      assertArrayEquals(new float[] {2, 15}, values, 0);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aRankThatLeavesMidRunFailsTheOthersAtOnceNamingIt() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 3, 16, WireDType.FP32,
        60_000);
    List<String> errors = LoopbackRanks.runRanks(3, (rank, board) -> {
      try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
          board.forRank(rank))) {
        exchange.allReduceMean(1, List.of(new float[] {1, 2, 3}));
        if (rank == 2) {
          return ""; // closes after one step, as a task whose process died would
        }
        long start = System.nanoTime();
        ExchangeException e = assertThrows(ExchangeException.class,
            () -> exchange.allReduceMean(2, ONE));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(10), "fails fast");
        ExchangeException again = assertThrows(ExchangeException.class,
            () -> exchange.allReduceMean(3, ONE));
        assertContains(again.getMessage(), "the exchange failed earlier");
        return e.getMessage();
      }
    });
    for (int r = 0; r < 2; r++) {
      assertContains(errors.get(r), "rank " + r + ": rank 2 left the shared exchange (its "
          + "process ended or it closed the exchange)", "step 2, bucket 0");
    }
  }

  @Test
  void aHangingRankTimesOutNamingIt() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 3, 16, WireDType.FP32,
        HANG_MS);
    CountDownLatch done = new CountDownLatch(2);
    List<String> errors = LoopbackRanks.runRanks(3, (rank, board) -> {
      try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
          board.forRank(rank))) {
        if (rank == 1) {
          done.await(20, TimeUnit.SECONDS); // joined, then never averages: a hung process
          return "";
        }
        try {
          return assertThrows(ExchangeException.class, () -> exchange.allReduceMean(4, ONE))
              .getMessage();
        } finally {
          done.countDown();
        }
      }
    });
    for (int r : new int[] {0, 2}) {
      assertContains(errors.get(r), "rank " + r + ": rank 1 did not arrive within " + HANG_MS
          + " ms", "step 4, bucket 0, copied in");
    }
  }

  @Test
  void ranksThatDisagreeOnSizesAreTold() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.SHARED, 2, 16, WireDType.FP32,
        10_000);
    List<String> errors = LoopbackRanks.run(spec, exchange -> assertThrows(
        ExchangeException.class, () -> exchange.allReduceMean(1,
            List.of(new float[exchange.rank() == 0 ? 3 : 2]))).getMessage());
    assertContains(errors.get(0), "rank 1 averages 2 elements at step 1, this rank 3 at step 1");
  }
}
