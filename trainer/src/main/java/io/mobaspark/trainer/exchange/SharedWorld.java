package io.mobaspark.trainer.exchange;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * What a rank of the {@code shared} kind holds once it has joined, on the host or the device: the
 * group of its host's ranks, the mapped {@link SharedArena} and its barrier. Joining is the group's
 * handshake, then rank 0 makes the arena and tells the others where it is, every rank maps it and
 * passes barrier 1, and rank 0 deletes the arena's file.
 */
final class SharedWorld implements AutoCloseable {
  /** Barriers every rank has passed once joined. */
  static final long JOINED = 1;

  final SameHostGroup group;
  final SharedArena arena;
  final ArenaBarrier barrier;

  private SharedWorld(SameHostGroup group, SharedArena arena, int timeoutMillis) {
    this.group = group;
    this.arena = arena;
    this.barrier = new ArenaBarrier(arena, group, timeoutMillis);
  }

  /**
   * @param slotElements floats per slot of each rank (0: the header alone, for device arenas)
   */
  static SharedWorld join(ExchangeSpec spec, int rank, String host, Rendezvous rendezvous,
      int slotElements) {
    return over(SameHostGroup.join(spec, rank, host, rendezvous), spec, slotElements);
  }

  /**
   * {@link #join} for a group already joined (the device kind first agrees with its ranks which
   * path it takes); the group is closed if this fails.
   */
  static SharedWorld over(SameHostGroup group, ExchangeSpec spec, int slotElements) {
    int rank = group.rank();
    SharedArena arena = null;
    try {
      if (rank == 0) {
        arena = SharedArena.create(spec.worldSize(), slotElements);
        group.broadcast(arena.file().toString().getBytes(StandardCharsets.UTF_8));
      } else {
        Path file = Path.of(new String(group.broadcast(null), StandardCharsets.UTF_8));
        arena = SharedArena.map(file, rank, spec.worldSize(), slotElements);
      }
      SharedWorld world = new SharedWorld(group, arena, spec.timeoutMillis());
      try {
        world.barrier.await(JOINED, () -> "mapping the shared arena");
      } finally {
        if (rank == 0) {
          arena.deleteFile();
        }
      }
      return world;
    } catch (RuntimeException e) {
      if (arena != null && rank == 0) {
        arena.deleteFile();
      }
      group.close();
      throw e;
    }
  }

  /**
   * After the first barrier of a step: every rank announced ({@link SharedArena#announce}) the same
   * step and size as this one.
   */
  void requireSameStep(int step, long elements) {
    for (int r = 0; r < arena.worldSize(); r++) {
      if (arena.step(r) != step || arena.size(r) != elements) {
        throw new ExchangeException("rank " + group.rank() + ": rank " + r + " averages "
            + arena.size(r) + " elements at step " + arena.step(r) + ", this rank " + elements
            + " at step " + step + ": the ranks disagree on step or gradient sizes");
      }
    }
  }

  /**
   * First element of rank {@code slice}'s slice (0..N; N gives the end) of an average of {@code
   * elements}: the part that rank reduces, on the host and the device alike.
   */
  long sliceStart(int slice, long elements) {
    return elements * slice / arena.worldSize();
  }

  @Override
  public void close() {
    group.close();
  }
}
