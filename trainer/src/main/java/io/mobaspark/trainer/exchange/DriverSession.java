package io.mobaspark.trainer.exchange;

import java.util.concurrent.Future;

/**
 * One generation of ranks connected to the {@link DriverAggregator} (one barrier stage attempt):
 * per step and bucket, reads every rank's bucket in rank order, sums in double in that order
 * (deterministic whatever the arrival order), divides by the world size, rounds once to the wire
 * dtype and sends the same bytes to every rank. Ends when a rank leaves or breaks the protocol; the
 * other ranks are then told why (ABORT), so that they fail at once rather than at their timeout.
 */
final class DriverSession {
  private static final System.Logger LOG = System.getLogger(DriverAggregator.class.getName());

  private final ExchangeSpec spec;
  private final PeerChannel[] ranks;
  // [bucketElements] sum in double; [bucketWireBytes] receive buffer; two result buffers so that
  // bucket b's result is encoded while bucket b-1's is still being sent.
  private final double[] sum;
  private final byte[] received;
  private final byte[][] results;
  private final Future<?>[][] pending;
  private int lastStep = PeerChannel.ANY;
  private volatile boolean closed;

  DriverSession(ExchangeSpec spec, PeerChannel[] ranks) {
    this.spec = spec;
    this.ranks = ranks;
    this.sum = new double[spec.bucketElements()];
    this.received = new byte[spec.bucketWireBytes()];
    this.results = new byte[2][spec.bucketWireBytes()];
    this.pending = new Future<?>[2][ranks.length];
  }

  /** Serves steps until a rank leaves or fails; never throws. */
  void run() {
    String ending;
    try {
      ending = serveSteps();
      LOG.log(System.Logger.Level.INFO, "exchange session of " + ranks.length + " ranks ended: "
          + ending);
    } catch (ExchangeException e) {
      ending = closed ? "the driver closed the exchange" : e.getMessage();
      LOG.log(closed ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
          "exchange session of " + ranks.length + " ranks ended: " + ending);
    }
    drainSends();
    for (PeerChannel rank : ranks) {
      rank.closeWith(FrameType.ABORT, -1, ending);
    }
  }

  /** Closes every connection, unblocking a session thread stuck in a read. */
  void close() {
    closed = true;
    for (PeerChannel rank : ranks) {
      rank.close();
    }
  }

  /** @return why the session ended normally: a rank closed its connection between steps */
  private String serveSteps() {
    while (true) {
      int step = PeerChannel.ANY;
      boolean last = false;
      for (int b = 0; !last; b++) {
        int length = -1;
        int flags = 0;
        for (int r = 0; r < ranks.length; r++) {
          String where = step != PeerChannel.ANY ? "step " + step + ", bucket " + b
              : lastStep == PeerChannel.ANY ? "waiting for the first step"
              : "waiting for the step after step " + lastStep;
          Frame header = ranks[r].readHeader(where, b == 0);
          if (header == null) {
            return "rank " + r + " closed its connection " + (lastStep == PeerChannel.ANY
                ? "before the first step" : "after step " + lastStep);
          }
          Frame frame = ranks[r].expect(header, FrameType.BUCKET, r, step, b, 0, length, where);
          if (r == 0) {
            step = frame.step();
            length = frame.length();
            flags = frame.flags();
            requireBucketLength(frame, "step " + step + ", bucket " + b);
          } else if (frame.flags() != flags) {
            throw new ExchangeException("driver: " + ranks[r].peer() + (frame.last() ? " ends"
                : " does not end") + " the step at bucket " + b + ", rank 0 "
                + (frame.last() ? "does not" : "does") + " (" + where + "): gradient sizes differ");
          }
          ranks[r].readPayload(frame, received, where);
          int n = length / spec.wire().bytes();
          if (r == 0) {
            spec.wire().decode(received, n, sum, 0);
          } else {
            spec.wire().decodeAdd(received, n, sum, 0);
          }
        }
        sendMean(step, b, flags, length);
        last = (flags & Frame.FLAG_LAST) != 0;
      }
      lastStep = step;
    }
  }

  /** Only the last bucket of a step may be short; none may be empty or hold a partial element. */
  private void requireBucketLength(Frame frame, String where) {
    int length = frame.length();
    boolean ok = length > 0 && length % spec.wire().bytes() == 0
        && (frame.last() || length == spec.bucketWireBytes());
    if (!ok) {
      throw new ExchangeException("driver: " + ranks[0].peer() + " sent a bucket of " + length
          + " bytes (" + where + "); buckets hold " + spec.bucketWireBytes() + " bytes, the last "
          + "one fewer, in whole " + spec.wire() + " elements");
    }
  }

  private void sendMean(int step, int bucket, int flags, int length) {
    int n = length / spec.wire().bytes();
    for (int i = 0; i < n; i++) {
      sum[i] /= ranks.length;
    }
    int slot = bucket % 2;
    String where = "step " + step + ", bucket " + bucket;
    for (int r = 0; r < ranks.length; r++) {
      if (pending[slot][r] != null) {
        ranks[r].await(pending[slot][r], where);
      }
    }
    spec.wire().encode(sum, 0, n, results[slot]);
    Frame frame = new Frame(FrameType.RESULT, spec.wire(), flags, -1, step, bucket, 0, length);
    for (int r = 0; r < ranks.length; r++) {
      pending[slot][r] = ranks[r].sendAsync(frame, results[slot], where);
    }
  }

  /** Lets queued results go out before the closing ABORT, which would otherwise overtake them. */
  private void drainSends() {
    for (Future<?>[] slot : pending) {
      for (int r = 0; r < ranks.length; r++) {
        if (slot[r] != null) {
          try {
            ranks[r].await(slot[r], "the end of the session");
          } catch (ExchangeException ignored) {
            // That rank is gone; the others still get their results and the reason.
          }
        }
      }
    }
  }
}
