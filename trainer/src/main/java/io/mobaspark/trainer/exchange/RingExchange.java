package io.mobaspark.trainer.exchange;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * The {@code ring} exchange: bandwidth-optimal all-reduce between the ranks, each sending to its
 * right neighbour and receiving from its left (Patarasuk and Yuan, "Bandwidth optimal all-reduce
 * algorithms for clusters of workstations", JPDC 2009; the NCCL ring). Per bucket of {@code n}
 * elements, cut into {@code N} chunks: {@code N-1} reduce-scatter hops, after which rank {@code r}
 * holds the mean of chunk {@code r+1}, then {@code N-1} all-gather hops. Each rank sends
 * {@code 2(N-1)/N} times the gradient, whatever {@code N}.
 *
 * <p>Pipelined and full duplex: {@value #BUCKETS_IN_FLIGHT} buckets are under way at once, the
 * channel's sender thread encodes each hop straight from the caller's buffers and writes it to the
 * right while this thread reads from the left and adds or copies straight into them; a hop received
 * queues the bucket's next hop, a bucket finished starts the next bucket. Every rank runs the same
 * rule from the same start, so every rank sends the same sequence of (bucket, phase, hop), and the
 * k-th frame from the left is the k-th frame this rank sent, with the left's chunk.
 *
 * <p>Summation order, deterministic and the same on every run: chunk {@code c} starts at rank
 * {@code c} and is summed in ring order {@code c, c+1, ..., c-1}, the partial sum rounded to the
 * wire dtype at each hop; the last rank multiplies by {@code 1/N} and rounds once more, and that
 * value is what every rank keeps. (The driver sums in rank order without intermediate rounding, so
 * the two kinds agree within float tolerance, not bit for bit.)
 */
final class RingExchange extends NetworkExchange {
  /** Enough to keep the sender busy while a hop's data waits for its predecessor's. */
  static final int BUCKETS_IN_FLIGHT = 4;

  /** One frame of the schedule: bucket {@code bucket}'s hop {@code hop} of reduce or gather. */
  private record Hop(int bucket, FrameType phase, int hop) {}

  private final int size;
  private final PeerChannel right;
  private final PeerChannel left;

  private RingExchange(ExchangeSpec spec, int rank, PeerChannel right, PeerChannel left) {
    super(spec, rank);
    this.size = spec.worldSize();
    this.right = right;
    this.left = left;
  }

  /**
   * Joins the ring: connects to the right neighbour (through its local socket when it is on this
   * host, else TCP) while accepting the left one on {@code listener} (both at once: every rank does
   * both, so doing them in turn would deadlock), then closes the listener.
   *
   * @param addresses every rank's {@link PeerAddress} text, by rank
   */
  static RingExchange connect(ExchangeSpec spec, int rank, RingListener listener,
      List<String> addresses) {
    int size = spec.worldSize();
    int rightRank = (rank + 1) % size;
    int leftRank = (rank + size - 1) % size;
    FutureTask<PeerChannel> accepting =
        new FutureTask<>(() -> listener.acceptLeft(spec, rank, leftRank));
    Thread acceptor = new Thread(accepting, "exchange-ring-accept rank " + rank);
    acceptor.setDaemon(true);
    acceptor.start();
    PeerChannel right = null;
    boolean joined = false;
    try {
      right = PeerChannel.connect(PeerAddress.parse("rank " + rightRank + "'s address",
          addresses.get(rightRank)), listener.host(), "rank " + rank, "rank " + rightRank, spec);
      Handshake.client(right, spec, rank, rightRank);
      RingExchange ring = new RingExchange(spec, rank, right, accepting.get());
      joined = true;
      return ring;
    } catch (ExecutionException e) {
      throw e.getCause() instanceof ExchangeException cause ? cause
          : new ExchangeException("rank " + rank + ": accepting rank " + leftRank + " failed: "
              + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ExchangeException("rank " + rank + ": interrupted while joining the ring");
    } finally {
      listener.close();
      if (!joined) {
        if (right != null) {
          right.close();
        }
        closeAccepted(accepting);
      }
    }
  }

  /**
   * Waits for the acceptor, which the closed listener stops at once (or a handshake under way within
   * the timeout), and closes the channel it may have got: nobody will use it.
   */
  private static void closeAccepted(FutureTask<PeerChannel> accepting) {
    try {
      accepting.get().close();
    } catch (ExecutionException | InterruptedException ignored) {
      // No channel was accepted, or the caller was interrupted: nothing to close either way.
    }
  }

  @Override
  void exchange(int step, FlatBuffers flat, int buckets) {
    Deque<Hop> sent = new ArrayDeque<>();
    Deque<Future<?>> sending = new ArrayDeque<>();
    int started = Math.min(BUCKETS_IN_FLIGHT, buckets);
    for (int b = 0; b < started; b++) {
      send(step, flat, new Hop(b, FrameType.REDUCE, 0), sent, sending);
    }
    while (!sent.isEmpty()) {
      Hop hop = sent.removeFirst();
      receive(step, flat, hop);
      boolean reduce = hop.phase() == FrameType.REDUCE;
      if (hop.hop() < size - 2) {
        send(step, flat, new Hop(hop.bucket(), hop.phase(), hop.hop() + 1), sent, sending);
      } else if (reduce) {
        send(step, flat, new Hop(hop.bucket(), FrameType.GATHER, 0), sent, sending);
      } else if (started < buckets) {
        send(step, flat, new Hop(started++, FrameType.REDUCE, 0), sent, sending);
      }
      while (!sending.isEmpty() && sending.peekFirst().isDone()) {
        right.await(sending.removeFirst(), "step " + step);
      }
    }
    for (Future<?> send : sending) {
      right.await(send, "step " + step);
    }
  }

  /**
   * Queues {@code hop} for the right neighbour; the sender thread encodes its chunk from the
   * buffers when it comes to it. No race: this rank changes that chunk next only on data that
   * passed through the right neighbour after this send (a reduce hop's chunk comes back summed
   * from the left in the gather, a gather hop's chunk is final).
   */
  private void send(int step, FlatBuffers flat, Hop hop, Deque<Hop> sent,
      Deque<Future<?>> sending) {
    int n = flat.bucketLength(hop.bucket(), spec.bucketElements());
    int chunk = hop.phase() == FrameType.REDUCE ? mod(rank - hop.hop()) : mod(rank + 1 - hop.hop());
    int from = chunkStart(chunk, n);
    int count = chunkStart(chunk + 1, n) - from;
    long start = (long) hop.bucket() * spec.bucketElements() + from;
    WireDType wire = spec.wire();
    Frame frame = new Frame(hop.phase(), wire, 0, rank, step, hop.bucket(), chunk,
        count * wire.bytes());
    sending.addLast(right.sendAsync(frame, (dst, at, first, run) -> flat.forEachPiece(
        start + first, run, (buffer, offset, c, done) ->
            wire.encode(buffer, offset, c, dst, at + done * wire.bytes())),
        where(step, hop, chunk)));
    sent.addLast(hop);
  }

  /**
   * Reads {@code hop} from the left: a reduce hop adds into the chunk (the last one completes the
   * mean), a gather hop copies the finished mean.
   */
  private void receive(int step, FlatBuffers flat, Hop hop) {
    int n = flat.bucketLength(hop.bucket(), spec.bucketElements());
    boolean reduce = hop.phase() == FrameType.REDUCE;
    int chunk = reduce ? mod(rank - hop.hop() - 1) : mod(rank - hop.hop());
    int from = chunkStart(chunk, n);
    int count = chunkStart(chunk + 1, n) - from;
    long start = (long) hop.bucket() * spec.bucketElements() + from;
    WireDType wire = spec.wire();
    String where = where(step, hop, chunk);
    Frame frame = left.expect(left.readHeader(where, false), hop.phase(), mod(rank - 1), step,
        hop.bucket(), chunk, count * wire.bytes(), where);
    boolean last = hop.hop() == size - 2;
    left.readPayload(frame, (src, at, first, run) -> flat.forEachPiece(start + first, run,
        (buffer, offset, c, done) -> {
          int byteAt = at + done * wire.bytes();
          if (!reduce) {
            wire.decode(src, byteAt, c, buffer, offset);
          } else if (last) {
            wire.decodeMean(src, byteAt, c, buffer, offset, size);
          } else {
            wire.decodeAdd(src, byteAt, c, buffer, offset);
          }
        }), where);
  }

  private static String where(int step, Hop hop, int chunk) {
    return "step " + step + ", bucket " + hop.bucket() + ", " + hop.phase() + " chunk " + chunk;
  }

  /** First element of chunk {@code chunk} (0..N; N gives the end) of a bucket of {@code n}. */
  private int chunkStart(int chunk, int n) {
    return (int) ((long) n * chunk / size);
  }

  private int mod(int r) {
    return Math.floorMod(r, size);
  }

  @Override
  public void close() {
    right.close();
    left.close();
  }
}
