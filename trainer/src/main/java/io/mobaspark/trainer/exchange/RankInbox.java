package io.mobaspark.trainer.exchange;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.function.IntFunction;

/**
 * The driver's receiving side for one rank: a thread that reads the rank's BUCKET frames as they
 * come, whatever the other ranks do, into {@value #SLOTS} bucket buffers, and hands them to the
 * {@link DriverSession} in order. So all ranks' buckets arrive at once (the kernel copies of N
 * connections overlap) while the session still sums them in rank order.
 *
 * <p>It reads ahead within a step only: the next step's first bucket is awaited once the session
 * has finished this one ({@link #startNextStep}), so that a rank that waits for its means is not
 * timed out by its own reader while the session waits for another rank (whose failure it then
 * reports).
 *
 * <p>This thread checks what it can alone: type, sender rank, bucket index, the step within a step,
 * and the payload bound; the session checks the rest across ranks (the same step, length and flags
 * as rank 0's). Driver memory: {@value #SLOTS} buckets per rank.
 */
final class RankInbox {
  static final int SLOTS = 2;

  /**
   * One bucket, or the end of the rank's stream: {@code closed} (between steps) or {@code failure}.
   *
   * @param payload the wire bytes in {@code [0, frame.length())}; given back by {@link #release}
   */
  record Arrival(Frame frame, ByteBuffer payload, boolean closed, ExchangeException failure) {}

  private final PeerChannel channel;
  private final int rank;
  private final IntFunction<String> sessionWhere;
  private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(SLOTS);
  private final BlockingQueue<Arrival> arrivals = new ArrayBlockingQueue<>(SLOTS + 1);
  private final Semaphore stepsToRead = new Semaphore(1);
  private final Thread reader;

  /**
   * @param sessionWhere what the session is at, for a bucket index: named in an error of a step's
   *     first bucket, whose step this reader learns only from its frame, or from rank 0's
   */
  RankInbox(PeerChannel channel, int rank, int bucketWireBytes, IntFunction<String> sessionWhere) {
    this.channel = channel;
    this.rank = rank;
    this.sessionWhere = sessionWhere;
    for (int i = 0; i < SLOTS; i++) {
      free.add(WireDType.allocate(bucketWireBytes));
    }
    this.reader = new Thread(this::readLoop, "exchange-driver-read rank " + rank);
    reader.setDaemon(true);
    reader.start();
  }

  /** The next bucket of this rank, or how its stream ended. */
  Arrival take() {
    try {
      return arrivals.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ExchangeException("driver: interrupted while waiting for rank " + rank);
    }
  }

  /** The session has sent the means of the step: the reader may wait for the next one. */
  void startNextStep() {
    stepsToRead.release();
  }

  /** Gives a bucket buffer back for the next bucket. */
  void release(ByteBuffer payload) {
    free.add(payload);
  }

  private void readLoop() {
    int step = PeerChannel.ANY;
    int bucket = 0;
    try {
      while (true) {
        if (bucket == 0) {
          stepsToRead.acquire();
        }
        ByteBuffer slot = free.take();
        int knownStep = step;
        int b = bucket;
        Frame header = channel.readHeader(() -> where(knownStep, b), b == 0);
        if (header == null) {
          arrivals.put(new Arrival(null, null, true, null));
          return;
        }
        String where = where(knownStep, b);
        Frame frame = channel.expect(header, FrameType.BUCKET, rank, knownStep, b, 0, -1, where);
        slot.clear();
        channel.readPayload(frame, slot, where);
        arrivals.put(new Arrival(frame, slot, false, null));
        step = frame.last() ? PeerChannel.ANY : frame.step();
        bucket = frame.last() ? 0 : b + 1;
      }
    } catch (ExchangeException e) {
      arrivals.offer(new Arrival(null, null, false, e));
    } catch (InterruptedException e) {
      // The session is closing; nobody waits for this rank any more.
    }
  }

  private String where(int step, int bucket) {
    return step != PeerChannel.ANY ? "step " + step + ", bucket " + bucket
        : sessionWhere.apply(bucket);
  }

  /** Stops the reader (the session has closed the channel, or is about to). */
  void stop() {
    reader.interrupt();
  }
}
