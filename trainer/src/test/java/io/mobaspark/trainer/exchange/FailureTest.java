package io.mobaspark.trainer.exchange;

import static io.mobaspark.trainer.exchange.AuthenticationTest.assertContains;
import static io.mobaspark.trainer.exchange.AuthenticationTest.awaitRefusal;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Peers that hang, die, are missing or speak garbage: errors name them and come fast. */
class FailureTest {
  private static final List<float[]> ONE = List.of(new float[] {1, 2, 3});
  /**
   * The timeout that declares a peer hung: short, so that the tests are quick, but above what the
   * healthy ranks' handshakes take on a busy 2-core machine (500 ms once timed one out there).
   */
  private static final int HANG_MS = 2000;

  @Test
  void aHangingRankMakesTheDriverAbortTheOthersNamingIt() throws Exception {
    try (DriverAggregator driver = DriverAggregator.start("127.0.0.1", 0, 2,
        LoopbackRanks.SECRET, 16, WireDType.FP32, HANG_MS)) {
      // The ranks wait longer than the driver, so the driver's verdict is what rank 0 reports.
      ExchangeSpec patient = withTimeout(driver.spec(), 10_000);
      CountDownLatch done = new CountDownLatch(1);
      List<String> errors = LoopbackRanks.runRanks(2, (rank, board) -> {
        try (GradientExchange exchange = GradientExchanges.open(patient, rank, "127.0.0.1",
            null)) {
          if (rank == 1) {
            done.await(10, TimeUnit.SECONDS); // joined, then never sends: a hung process
            return "";
          }
          long start = System.nanoTime();
          ExchangeException e = assertThrows(ExchangeException.class,
              () -> exchange.allReduceMean(1, ONE));
          assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "fails fast");
          ExchangeException again = assertThrows(ExchangeException.class,
              () -> exchange.allReduceMean(2, ONE));
          assertContains(again.getMessage(), "rank 0: the exchange failed earlier");
          done.countDown();
          return e.getMessage();
        }
      });
      assertContains(errors.get(0), "rank 0: driver at " + driver.address() + " aborted: ",
          "driver: no frame from rank 1 at the local socket on 127.0.0.1",
          "within " + HANG_MS + " ms (step 1, bucket 0)");

      // A retried stage connects again and gets a fresh session from the same aggregator.
      List<float[]> retried = LoopbackRanks.runRanks(2, (rank, board) -> {
        try (GradientExchange exchange = GradientExchanges.open(patient, rank, "127.0.0.1",
            null)) {
          float[] values = {rank + 1};
          exchange.allReduceMean(1, List.of(values));
          return values;
        }
      });
      assertEquals(1.5f, retried.get(1)[0]);
    }
  }

  @Test
  void aHangingRingNeighbourTimesOutNamingIt() throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.RING, 3, 16, WireDType.FP32, HANG_MS);
    CountDownLatch done = new CountDownLatch(1);
    List<String> errors = LoopbackRanks.runRanks(3, (rank, board) -> {
      try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
          board.forRank(rank))) {
        if (rank == 2) {
          done.await(10, TimeUnit.SECONDS);
          return "";
        }
        ExchangeException e = assertThrows(ExchangeException.class,
            () -> exchange.allReduceMean(4, ONE));
        if (rank == 0) {
          done.countDown();
        }
        return e.getMessage();
      }
    });
    // Neighbours on one host meet on the local socket (docs/exchange.md), named with the host.
    assertContains(errors.get(0), "rank 0: no frame from rank 2 at the local socket on 127.0.0.1",
        "within " + HANG_MS + " ms (step 4, bucket 0, REDUCE chunk 2)");
  }

  @Test
  void aRankThatLeavesEndsTheOthersStepAtOnce() throws Exception {
    try (DriverAggregator driver = DriverAggregator.start("127.0.0.1", 0, 2,
        LoopbackRanks.SECRET, 16, WireDType.FP32, 10_000)) {
      CountDownLatch left = new CountDownLatch(1);
      List<String> errors = LoopbackRanks.runRanks(2, (rank, board) -> {
        try (GradientExchange exchange = GradientExchanges.open(driver.spec(), rank, "127.0.0.1",
            null)) {
          if (rank == 1) {
            return ""; // closes at once, as a task that died would
          }
          left.await(1, TimeUnit.SECONDS);
          return assertThrows(ExchangeException.class, () -> exchange.allReduceMean(1, ONE))
              .getMessage();
        } finally {
          if (rank == 1) {
            left.countDown();
          }
        }
      });
      assertContains(errors.get(0), "aborted: rank 1 closed its connection before the first step");
    }
  }

  @Test
  void aMissingDriverIsNamedWithItsAddress() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0)) {
      port = probe.getLocalPort();
    }
    ExchangeSpec spec = new ExchangeSpec(ExchangeSpec.Kind.DRIVER, 2, "127.0.0.1:" + port,
        LoopbackRanks.SECRET, 16, WireDType.FP32, 2_000);
    ExchangeException e = assertThrows(ExchangeException.class,
        () -> GradientExchanges.open(spec, 1, "127.0.0.1", null));
    assertContains(e.getMessage(), "rank 1: cannot connect to driver at 127.0.0.1:" + port);
  }

  @Test
  void garbageIsRefusedAtTheHeaderWithoutWaitingForItsPayload() throws Exception {
    try (DriverAggregator driver = DriverAggregator.start("127.0.0.1", 0, 2,
        LoopbackRanks.SECRET, 16, WireDType.FP32, 60_000)) {
      String reply = sendRaw(driver, "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(
          StandardCharsets.US_ASCII));
      assertContains(reply, "refused a malformed frame from peer 127.0.0.1:",
          "bad magic 0x47455420 (not an exchange peer, or a corrupt stream)");
      assertContains(awaitRefusal(driver::refusals), "bad magic 0x47455420");

      // A well-formed header announcing 2 GiB: refused at once, with 60 s left on the read
      // timeout, so the driver never waited for (or allocated) the payload.
      byte[] header = new byte[Frame.HEADER_BYTES];
      new Frame(FrameType.HELLO, WireDType.FP32, 0, 0, 0, 0, 0, Integer.MAX_VALUE).encode(header);
      long start = System.nanoTime();
      String absurd = sendRaw(driver, header);
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "refused at once");
      assertContains(absurd, "HELLO frame declares 2147483647 payload bytes, allowed 40..40");
    }
  }

  /** Writes {@code bytes} to the driver and returns the text of the REFUSE it answers with. */
  private static String sendRaw(DriverAggregator driver, byte[] bytes) throws Exception {
    String[] hostPort = driver.address().split(":");
    try (Socket socket = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write(bytes);
      out.flush();
      DataInputStream in = new DataInputStream(socket.getInputStream());
      byte[] header = new byte[Frame.HEADER_BYTES];
      in.readFully(header);
      Frame frame = Frame.decode(header, 0);
      assertEquals(FrameType.REFUSE, frame.type());
      byte[] text = new byte[frame.length()];
      in.readFully(text);
      assertEquals(-1, in.read(), "the driver closes after refusing");
      return new String(text, StandardCharsets.UTF_8);
    }
  }

  private static ExchangeSpec withTimeout(ExchangeSpec spec, int timeoutMillis) {
    return new ExchangeSpec(spec.kind(), spec.worldSize(), spec.driverAddress(), spec.secret(),
        spec.bucketBytes(), spec.wire(), timeoutMillis);
  }
}
