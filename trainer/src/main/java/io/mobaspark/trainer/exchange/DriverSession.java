package io.mobaspark.trainer.exchange;

import java.nio.ByteBuffer;
import java.util.concurrent.Future;

/**
 * One generation of ranks connected to the {@link DriverAggregator} (one barrier stage attempt):
 * every rank's buckets are received at once, each by its {@link RankInbox}; per step and bucket
 * this thread sums them in double in rank order as they arrive (deterministic whatever the arrival
 * order), multiplies by 1 / world size, rounds once to the wire dtype and sends the same bytes to
 * every rank. Ends when a rank leaves or breaks the protocol; the other ranks are then told why
 * (ABORT), so that they fail at once rather than at their timeout.
 */
final class DriverSession {
  private static final System.Logger LOG = System.getLogger(DriverAggregator.class.getName());

  private final ExchangeSpec spec;
  private final PeerChannel[] ranks;
  private final RankInbox[] inboxes;
  // [bucketElements] sum in double; two result buffers so that bucket b's result is encoded while
  // bucket b-1's is still being sent.
  private final double[] sum;
  private final ByteBuffer[] results;
  private final Future<?>[][] pending;
  private volatile int step = PeerChannel.ANY;
  private volatile int lastStep = PeerChannel.ANY;
  private volatile boolean closed;

  DriverSession(ExchangeSpec spec, PeerChannel[] ranks) {
    this.spec = spec;
    this.ranks = ranks;
    this.sum = new double[spec.bucketElements()];
    this.results = new ByteBuffer[] {WireDType.allocate(spec.bucketWireBytes()),
        WireDType.allocate(spec.bucketWireBytes())};
    this.pending = new Future<?>[2][ranks.length];
    this.inboxes = new RankInbox[ranks.length];
    for (int r = 0; r < ranks.length; r++) {
      inboxes[r] = new RankInbox(ranks[r], r, spec.bucketWireBytes(), this::where);
    }
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
    for (RankInbox inbox : inboxes) {
      inbox.stop();
    }
  }

  /** Closes every connection, unblocking the readers and this session's thread. */
  void close() {
    closed = true;
    for (PeerChannel rank : ranks) {
      rank.close();
    }
    for (RankInbox inbox : inboxes) {
      inbox.stop();
    }
  }

  /** What the session is at, for the messages of a reader that waits for a step's bucket. */
  private String where(int bucket) {
    int now = step;
    return now != PeerChannel.ANY ? "step " + now + ", bucket " + bucket
        : lastStep == PeerChannel.ANY ? "waiting for the first step"
        : "waiting for the step after step " + lastStep;
  }

  /** @return why the session ended normally: a rank closed its connection between steps */
  private String serveSteps() {
    while (true) {
      boolean last = false;
      for (int b = 0; !last; b++) {
        int length = -1;
        int flags = 0;
        for (int r = 0; r < ranks.length; r++) {
          RankInbox.Arrival arrival = inboxes[r].take();
          if (arrival.failure() != null) {
            throw arrival.failure();
          }
          if (arrival.closed()) {
            return "rank " + r + " closed its connection " + (lastStep == PeerChannel.ANY
                ? "before the first step" : "after step " + lastStep);
          }
          Frame frame = arrival.frame();
          String where = "step " + step + ", bucket " + b;
          if (r == 0) {
            step = frame.step();
            length = frame.length();
            flags = frame.flags();
            requireBucketLength(frame, "step " + step + ", bucket " + b);
          } else {
            requireSameAsRankZero(r, frame, length, flags, where);
          }
          int n = length / spec.wire().bytes();
          if (r == 0) {
            spec.wire().decode(arrival.payload(), 0, n, sum, 0);
          } else {
            spec.wire().decodeAdd(arrival.payload(), 0, n, sum, 0);
          }
          inboxes[r].release(arrival.payload());
        }
        sendMean(step, b, flags, length);
        last = (flags & Frame.FLAG_LAST) != 0;
      }
      lastStep = step;
      step = PeerChannel.ANY;
      for (RankInbox inbox : inboxes) {
        inbox.startNextStep();
      }
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

  /** Rank {@code r}'s bucket must be of rank 0's step, and as long and as last as rank 0's. */
  private void requireSameAsRankZero(int r, Frame frame, int length, int flags, String where) {
    String mismatch = frame.step() != step ? "step " + frame.step() + ", expected " + step
        : frame.flags() != flags ? (frame.last() ? "ends" : "does not end") + " the step here, "
            + "rank 0 " + ((flags & Frame.FLAG_LAST) != 0 ? "does" : "does not")
            + ": gradient sizes differ"
        : frame.length() != length ? frame.length() + " payload bytes, expected " + length
        : null;
    if (mismatch != null) {
      throw new ExchangeException("driver: " + ranks[r].peer() + " sent " + mismatch + " ("
          + where + ")");
    }
  }

  private void sendMean(int step, int bucket, int flags, int length) {
    int n = length / spec.wire().bytes();
    double scale = 1.0 / ranks.length; // as the ring's last hop (WireDType.decodeMean) scales
    for (int i = 0; i < n; i++) {
      sum[i] *= scale;
    }
    int slot = bucket % 2;
    String where = "step " + step + ", bucket " + bucket;
    for (int r = 0; r < ranks.length; r++) {
      if (pending[slot][r] != null) {
        ranks[r].await(pending[slot][r], where);
      }
    }
    ByteBuffer result = results[slot].clear().limit(length);
    spec.wire().encode(sum, 0, n, result, 0);
    Frame frame = new Frame(FrameType.RESULT, spec.wire(), flags, -1, step, bucket, 0, length);
    for (int r = 0; r < ranks.length; r++) {
      pending[slot][r] = ranks[r].sendAsync(frame, result, where);
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
