package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** A peer with the wrong secret (or other terms) is refused, told why, logged, and listed. */
class AuthenticationTest {
  static final String WRONG = "not-this-runs-secret-at-all";

  @Test
  void theDriverRefusesAWrongSecretAndKeepsServingTheRun() throws Exception {
    try (DriverAggregator driver = DriverAggregator.start("127.0.0.1", 0, 2,
        LoopbackRanks.SECRET, 16, WireDType.FP32, 10_000)) {
      // No host given: this rank connects by TCP, as from another machine.
      ExchangeException e = assertThrows(ExchangeException.class,
          () -> GradientExchanges.open(with(driver.spec(), WRONG, 16), 1, null, null));
      assertContains(e.getMessage(), "rank 1: driver at " + driver.address()
          + " refused the connection: driver: refused rank 1 at 127.0.0.1:",
          ": authentication failed (its run secret differs)");
      assertContains(awaitRefusal(driver::refusals), "driver: refused rank 1 at 127.0.0.1:",
          "authentication failed");

      List<float[]> means = LoopbackRanks.runRanks(2, (rank, board) -> {
        try (GradientExchange exchange = GradientExchanges.open(driver.spec(), rank, "127.0.0.1",
            null)) {
          float[] values = {rank, 10 * rank};
          exchange.allReduceMean(1, List.of(values));
          return values;
        }
      });
      assertArrayEquals(new float[] {0.5f, 5}, means.get(0), 0);
      assertArrayEquals(new float[] {0.5f, 5}, means.get(1), 0);
    }
  }

  @Test
  void theDriverRefusesOtherTermsSayingWhichDiffer() {
    try (DriverAggregator driver = DriverAggregator.start("127.0.0.1", 0, 2,
        LoopbackRanks.SECRET, 16, WireDType.FP32, 10_000)) {
      ExchangeException e = assertThrows(ExchangeException.class, () -> GradientExchanges.open(
          with(driver.spec(), LoopbackRanks.SECRET, 32), 0, "127.0.0.1", null));
      assertContains(e.getMessage(), "bucket of 8 elements differs from driver's 4");
    }
  }

  @Test
  void aRingRankRefusesAWrongSecretThenAcceptsItsRealNeighbour() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.RING, 2, 16, WireDType.FP32, 10_000);
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try (RingListener listener = RingListener.bind("127.0.0.1")) {
      Future<PeerChannel> rank0 = threads.submit(() -> listener.acceptLeft(spec, 0, 1));

      PeerChannel intruder = PeerChannel.connect(listener.hostPort(), "rank 1", "rank 0",
          with(spec, WRONG, 16));
      ExchangeException e = assertThrows(ExchangeException.class,
          () -> Handshake.client(intruder, with(spec, WRONG, 16), 1, 0));
      intruder.close();
      assertContains(e.getMessage(), "rank 1: rank 0 at " + listener.hostPort()
          + " refused the connection: rank 0: refused rank 1 at 127.0.0.1:",
          "authentication failed (its run secret differs)");
      assertContains(awaitRefusal(listener::refusals), "authentication failed");

      try (PeerChannel neighbour = PeerChannel.connect(listener.hostPort(), "rank 1", "rank 0",
          spec)) {
        Handshake.client(neighbour, spec, 1, 0);
        try (PeerChannel accepted = rank0.get(10, TimeUnit.SECONDS)) {
          assertTrue(accepted.peer().startsWith("rank 1 at 127.0.0.1:"), accepted.peer());
        }
      }
      assertEquals(1, listener.refusals().size());
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aWrongSecretIsRefusedOnTheLocalSocketToo() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.RING, 2, 16, WireDType.FP32, 10_000);
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try (RingListener listener = RingListener.bind("127.0.0.1")) {
      PeerAddress address = PeerAddress.parse("rank 0's address", listener.address());
      assertTrue(address.localFrom("127.0.0.1"), "a same-host neighbour would use " + address);
      Future<PeerChannel> rank0 = threads.submit(() -> listener.acceptLeft(spec, 0, 1));
      try (PeerChannel intruder = PeerChannel.connect(address, "127.0.0.1", "rank 1", "rank 0",
          with(spec, WRONG, 16))) {
        ExchangeException e = assertThrows(ExchangeException.class,
            () -> Handshake.client(intruder, with(spec, WRONG, 16), 1, 0));
        assertContains(e.getMessage(), "refused the connection: rank 0: refused rank 1 at the "
            + "local socket on 127.0.0.1", "authentication failed (its run secret differs)");
      }
      try (PeerChannel neighbour = PeerChannel.connect(address, "127.0.0.1", "rank 1", "rank 0",
          spec)) {
        Handshake.client(neighbour, spec, 1, 0);
        rank0.get(10, TimeUnit.SECONDS).close();
      }
      assertEquals(1, listener.refusals().size());
    } finally {
      threads.shutdownNow();
    }
  }

  static ExchangeSpec with(ExchangeSpec spec, String secret, int bucketBytes) {
    return new ExchangeSpec(spec.kind(), spec.worldSize(), spec.driverAddress(), secret,
        bucketBytes, spec.wire(), spec.timeoutMillis());
  }

  /** The first refusal, once the server has recorded it (it tells the peer first). */
  static String awaitRefusal(Supplier<List<String>> refusals) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (refusals.get().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(1, refusals.get().size(), "refusals: " + refusals.get());
    return refusals.get().get(0);
  }

  static void assertContains(String text, String... parts) {
    for (String part : parts) {
      assertTrue(text.contains(part), "'" + part + "' not in: " + text);
    }
  }
}
