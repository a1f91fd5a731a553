package io.mobaspark.trainer.exchange;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * The {@code ring} exchange: bandwidth-optimal all-reduce between the ranks, each sending to its
 * right neighbour and receiving from its left (Patarasuk and Yuan, "Bandwidth optimal all-reduce
 * algorithms for clusters of workstations", JPDC 2009; the NCCL ring). Per bucket of {@code n}
 * elements, cut into {@code N} chunks: {@code N-1} reduce-scatter steps, after which rank {@code r}
 * holds the mean of chunk {@code r+1}, then {@code N-1} all-gather steps. Each rank sends
 * {@code 2(N-1)/N} times the gradient, whatever {@code N}.
 *
 * <p>Summation order, deterministic and the same on every run: chunk {@code c} starts at rank
 * {@code c} and is summed in ring order {@code c, c+1, ..., c-1}, the partial sum rounded to the
 * wire dtype at each hop; the last rank divides by {@code N} and rounds once more, and that value is
 * what every rank keeps. (The driver sums in rank order without intermediate rounding, so the two
 * kinds agree within float tolerance, not bit for bit.)
 */
final class RingExchange extends NetworkExchange {
  private final int size;
  private final PeerChannel right;
  private final PeerChannel left;
  // Preallocated: [bucketElements] values, [bucketWireBytes] bytes each way.
  private final float[] values;
  private final byte[] sendBytes;
  private final byte[] receiveBytes;

  private RingExchange(ExchangeSpec spec, int rank, PeerChannel right, PeerChannel left) {
    super(spec, rank);
    this.size = spec.worldSize();
    this.right = right;
    this.left = left;
    this.values = new float[spec.bucketElements()];
    this.sendBytes = new byte[spec.bucketWireBytes()];
    this.receiveBytes = new byte[spec.bucketWireBytes()];
  }

  /**
   * Joins the ring: connects to the right neighbour while accepting the left one on {@code listener}
   * (both at once: every rank does both, so doing them in turn would deadlock), then closes the
   * listener.
   *
   * @param addresses {@code host:port} of every rank's listener, by rank
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
      right = PeerChannel.connect(addresses.get(rightRank), "rank " + rank, "rank " + rightRank,
          spec);
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
    for (int b = 0; b < buckets; b++) {
      int n = flat.bucketLength(b, spec.bucketElements());
      long start = (long) b * spec.bucketElements();
      flat.read(start, values, n);
      reduceScatter(step, b, n);
      allGather(step, b, n);
      flat.write(start, values, n);
    }
  }

  /** After it, {@code values} holds the final mean of chunk {@code rank + 1} of the bucket. */
  private void reduceScatter(int step, int bucket, int n) {
    WireDType wire = spec.wire();
    for (int s = 0; s < size - 1; s++) {
      int chunk = mod(rank - s - 1);
      shift(FrameType.REDUCE, step, bucket, n, mod(rank - s), chunk);
      int from = chunkStart(chunk, n);
      int count = chunkStart(chunk + 1, n) - from;
      if (s < size - 2) {
        wire.decodeAdd(receiveBytes, count, values, from);
      } else {
        for (int i = 0; i < count; i++) {
          values[from + i] =
              (float) wire.round((wire.decodeAt(receiveBytes, i) + values[from + i]) / size);
        }
      }
    }
  }

  private void allGather(int step, int bucket, int n) {
    for (int s = 0; s < size - 1; s++) {
      int chunk = mod(rank - s);
      shift(FrameType.GATHER, step, bucket, n, mod(rank + 1 - s), chunk);
      int from = chunkStart(chunk, n);
      spec.wire().decode(receiveBytes, chunkStart(chunk + 1, n) - from, values, from);
    }
  }

  /** Sends chunk {@code out} to the right while receiving chunk {@code in} from the left. */
  private void shift(FrameType type, int step, int bucket, int n, int out, int in) {
    String where = "step " + step + ", bucket " + bucket + ", " + type + " chunk ";
    int outFrom = chunkStart(out, n);
    int outCount = chunkStart(out + 1, n) - outFrom;
    spec.wire().encode(values, outFrom, outCount, sendBytes);
    Future<?> sending = right.sendAsync(new Frame(type, spec.wire(), 0, rank, step, bucket, out,
        outCount * spec.wire().bytes()), sendBytes, where + out);
    int inCount = chunkStart(in + 1, n) - chunkStart(in, n);
    Frame frame = left.expect(left.readHeader(where + in, false), type, mod(rank - 1), step,
        bucket, in, inCount * spec.wire().bytes(), where + in);
    left.readPayload(frame, receiveBytes, where + in);
    right.await(sending, where + out);
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
