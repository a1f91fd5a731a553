package io.mobaspark.trainer.exchange;

import java.nio.FloatBuffer;

/**
 * The {@code shared} kind for ranks whose gradients are on the host (CPU ranks, or GPU ranks that
 * copy theirs out): the ranks of one host average through shared memory instead of sockets
 * (docs/exchange.md, "Ranks of one host"). Per bucket of {@code n} elements, cut into {@code N}
 * slices as the ring cuts its chunks:
 * <ol>
 *   <li>each rank copies its bucket into its own slot of the {@link SharedArena}; barrier;
 *   <li>rank {@code r} reduces slice {@code r}: the sum over the ranks' slots in rank order, in
 *       double, scaled by {@code 1/N} and rounded to the wire dtype once, written back into its own
 *       slot; barrier;
 *   <li>each rank copies every slice from its reducer's slot into its buffers.
 * </ol>
 * Every rank ends with the same bits, and they are the {@code driver} kind's (same order, same
 * double sum, same scale; bf16 inputs rounded as its ranks encode them). Each rank has two slots
 * used by turns, so bucket {@code b+2} may overwrite a slot only after every rank has passed bucket
 * {@code b+1}'s first barrier, that is after every rank has copied bucket {@code b} out: two
 * barriers per bucket, no third one to guard the reuse.
 */
final class SharedExchange extends NetworkExchange {
  /** Elements {@link #reduce} takes at a time: its scratch stays in the core's L1/L2. */
  private static final int REDUCE_BLOCK = 2048;
  private final SharedWorld world;
  private final SharedArena arena;
  private final ArenaBarrier barrier;
  /** Barriers passed so far (the same on every rank). */
  private long count = SharedWorld.JOINED;
  /** Each phase's threads; part p's scratch of {@link #reduce} is values[p] and sums[p]. */
  private final RangeWorkers workers;
  private final float[][] values;
  private final double[][] sums;

  private SharedExchange(ExchangeSpec spec, SharedWorld world, int parts) {
    super(spec, world.group.rank());
    this.world = world;
    this.arena = world.arena;
    this.barrier = world.barrier;
    this.workers = new RangeWorkers(parts, "exchange-shared-copy rank " + rank);
    this.values = new float[parts][REDUCE_BLOCK];
    this.sums = new double[parts][REDUCE_BLOCK];
  }

  /**
   * Joins the ranks of this host, each with two slots of a bucket ({@link SharedWorld}), copying
   * and reducing on its share of the cores ({@link RangeWorkers#partsFor}).
   */
  static SharedExchange join(ExchangeSpec spec, int rank, String host, Rendezvous rendezvous) {
    return join(spec, rank, host, rendezvous, RangeWorkers.partsFor(spec.worldSize()));
  }

  /** {@link #join} with {@code parts} threads per phase. */
  static SharedExchange join(ExchangeSpec spec, int rank, String host, Rendezvous rendezvous,
      int parts) {
    SharedWorld world = SharedWorld.join(spec, rank, host, rendezvous, spec.bucketElements());
    return new SharedExchange(spec, world, parts);
  }

  /**
   * The host path for a group that has joined already: GPU ranks whose devices cannot reach each
   * other ({@link DeviceSharedExchange#open}).
   */
  static SharedExchange over(ExchangeSpec spec, SameHostGroup group) {
    SharedWorld world = SharedWorld.over(group, spec, spec.bucketElements());
    return new SharedExchange(spec, world, RangeWorkers.partsFor(spec.worldSize()));
  }

  @Override
  void exchange(int step, FlatBuffers flat, int buckets) {
    try {
      for (int b = 0; b < buckets; b++) {
        exchangeBucket(step, flat, b);
      }
    } catch (ExchangeException e) {
      barrier.failed();
      throw e;
    }
  }

  private void exchangeBucket(int step, FlatBuffers flat, int bucket) {
    int size = spec.worldSize();
    int n = flat.bucketLength(bucket, spec.bucketElements());
    long start = (long) bucket * spec.bucketElements();
    int slot = (int) (count / 2 % 2);
    WireDType wire = spec.wire();
    FloatBuffer mine = arena.slot(rank, slot);
    workers.run(0, n, (part, lo, hi) -> flat.forEachPiece(start + lo, hi - lo,
        (buffer, offset, c, done) -> {
          if (wire == WireDType.FP32) {
            mine.put(lo + done, buffer, offset, c);
          } else {
            for (int i = 0; i < c; i++) {
              mine.put(lo + done + i, (float) wire.round(buffer[offset + i]));
            }
          }
        }));
    if (bucket == 0) {
      arena.announce(rank, step, flat.size());
    }
    barrier.await(++count, () -> "step " + step + ", bucket " + bucket + ", copied in");
    if (bucket == 0) {
      world.requireSameStep(step, flat.size());
    }
    workers.run(chunkStart(rank, n), chunkStart(rank + 1, n),
        (part, lo, hi) -> reduce(slot, lo, hi, mine, values[part], sums[part]));
    barrier.await(++count, () -> "step " + step + ", bucket " + bucket + ", reduced");
    workers.run(0, n, (part, lo, hi) -> {
      for (int r = 0; r < size; r++) {
        int from = Math.max(lo, chunkStart(r, n));
        int to = Math.min(hi, chunkStart(r + 1, n));
        if (from < to) {
          FloatBuffer reduced = arena.slot(r, slot);
          flat.forEachPiece(start + from, to - from,
              (buffer, offset, c, done) -> reduced.get(from + done, buffer, offset, c));
        }
      }
    });
  }

  /**
   * {@code mine[i] = round((slot_0[i] + ... + slot_{N-1}[i]) * (1/N))} over {@code [from, to)},
   * summed in double from rank 0's value, as the driver sums (DriverSession). A block at a time
   * through heap scratch: bulk copies out of the mapped slots and plain array loops took half the
   * time of per-element buffer reads (2.0-2.3x at 2 and 4 ranks; docs/perf/exchange.md).
   */
  private void reduce(int slot, int from, int to, FloatBuffer mine, float[] values,
      double[] sums) {
    int size = spec.worldSize();
    double scale = 1.0 / size;
    WireDType wire = spec.wire();
    for (int at = from; at < to; at += REDUCE_BLOCK) {
      int n = Math.min(REDUCE_BLOCK, to - at);
      arena.slot(0, slot).get(at, values, 0, n);
      for (int i = 0; i < n; i++) {
        sums[i] = values[i];
      }
      for (int r = 1; r < size; r++) {
        arena.slot(r, slot).get(at, values, 0, n);
        for (int i = 0; i < n; i++) {
          sums[i] += values[i];
        }
      }
      for (int i = 0; i < n; i++) {
        values[i] = (float) wire.round(sums[i] * scale);
      }
      mine.put(at, values, 0, n);
    }
  }

  /** First element of slice {@code slice} of a bucket of {@code n} (SharedWorld.sliceStart). */
  private int chunkStart(int slice, int n) {
    return (int) world.sliceStart(slice, n);
  }

  @Override
  public void close() {
    workers.close();
    world.close();
  }
}
