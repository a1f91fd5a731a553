package io.mobaspark.trainer.exchange;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Orders the phases of the {@code shared} kind: each rank counts the barriers it has reached in the
 * arena's header, and a barrier is "set my count to k, wait until every count is at least k" (the
 * count is published with release semantics, so what a rank wrote before it is visible to every
 * rank after the barrier).
 *
 * <p>The wait spins for a few microseconds (a barrier between idle cores takes about that), then
 * yields, then naps in short parks: on a loaded host a spinning rank would take the core that the
 * rank it waits for needs. While it waits it watches the arena's abort word (the first failure any
 * rank recorded), the connections of the ranks it waits for (a closed one means that rank ended,
 * which fails the exchange at once, naming it, on every rank) and the timeout.
 */
final class ArenaBarrier {
  private static final long SPIN_NANOS = 20_000;
  private static final long YIELD_NANOS = 1_000_000;
  private static final long NAP_NANOS = 50_000;
  private static final long PROBE_NANOS = 20_000_000;

  /** What an abort word says happened to the rank it names. */
  private enum Cause {
    FAILED, LEFT, HUNG
  }

  private final SharedArena arena;
  private final SameHostGroup group;
  private final int rank;
  private final long timeoutNanos;

  ArenaBarrier(SharedArena arena, SameHostGroup group, int timeoutMillis) {
    this.arena = arena;
    this.group = group;
    this.rank = group.rank();
    this.timeoutNanos = timeoutMillis * 1_000_000L;
  }

  /**
   * Arrives at barrier {@code count} and waits until every rank has.
   *
   * @param where what was under way, for messages ("step 12, bucket 3, reduced")
   * @throws ExchangeException naming the rank that failed, left or did not arrive in time
   */
  void await(long count, Supplier<String> where) {
    arena.arrive(rank, count);
    long start = System.nanoTime();
    long nextProbe = start + PROBE_NANOS;
    while (true) {
      List<Integer> lagging = below(count);
      if (lagging.isEmpty()) {
        return;
      }
      throwIfAborted(where);
      long now = System.nanoTime();
      if (now - start < SPIN_NANOS) {
        Thread.onSpinWait();
      } else if (now - start < YIELD_NANOS) {
        Thread.yield();
      } else {
        LockSupport.parkNanos(NAP_NANOS);
      }
      if (Thread.interrupted()) {
        Thread.currentThread().interrupt();
        throw fail(Cause.FAILED, rank, "rank " + rank + ": interrupted (" + where.get() + ")");
      }
      if (now - nextProbe >= 0) {
        nextProbe = now + PROBE_NANOS;
        for (int r : lagging) {
          if (group.gone(r)) {
            throw fail(Cause.LEFT, r, "rank " + rank + ": " + describe(Cause.LEFT, r) + " ("
                + where.get() + ")");
          }
        }
      }
      if (now - start >= timeoutNanos) {
        throw fail(Cause.HUNG, lagging.get(0), "rank " + rank + ": "
            + (lagging.size() == 1 ? "rank " + lagging.get(0) : "ranks " + lagging)
            + " did not arrive within " + timeoutNanos / 1_000_000 + " ms (" + where.get()
            + "); it hangs, or exchange.timeout is shorter than its step");
      }
    }
  }

  /** The ranks whose count is below {@code count}. */
  private List<Integer> below(long count) {
    List<Integer> lagging = List.of();
    for (int r = 0; r < arena.worldSize(); r++) {
      if (arena.count(r) < count) {
        if (lagging.isEmpty()) {
          lagging = new ArrayList<>();
        }
        lagging.add(r);
      }
    }
    return lagging;
  }

  private void throwIfAborted(Supplier<String> where) {
    int word = arena.abortWord();
    if (word != 0) {
      Cause cause = Cause.values()[(word >>> 16) - 1];
      int named = (word & 0xFFFF) - 1;
      throw new ExchangeException("rank " + rank + ": " + describe(cause, named) + " (seen by "
          + "another rank; " + where.get() + ")");
    }
  }

  /**
   * Records that this rank gives up for a reason of its own, so that the others stop waiting at
   * once instead of after the timeout.
   */
  void failed() {
    arena.abort(word(Cause.FAILED, rank));
  }

  private ExchangeException fail(Cause cause, int named, String message) {
    arena.abort(word(cause, named));
    return new ExchangeException(message);
  }

  private static int word(Cause cause, int named) {
    return (cause.ordinal() + 1) << 16 | (named + 1);
  }

  private String describe(Cause cause, int named) {
    return switch (cause) {
      case FAILED -> "rank " + named + " failed the shared exchange (its log says why)";
      case LEFT -> "rank " + named + " left the shared exchange (its process ended or it closed "
          + "the exchange)";
      case HUNG -> "rank " + named + " did not arrive within " + timeoutNanos / 1_000_000 + " ms";
    };
  }
}
