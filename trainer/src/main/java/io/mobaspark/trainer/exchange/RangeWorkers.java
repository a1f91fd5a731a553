package io.mobaspark.trainer.exchange;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs one phase of a {@link SharedExchange} bucket (copy in, reduce, copy out) on several threads
 * of this rank, each on its own contiguous part of the range. A rank alone moves its gradient at
 * one core's memory bandwidth, which on a many-core host left the shared kind slower than the ring
 * (whose ranks use a sender and a receiver thread each: docs/perf/exchange.md); the parts are
 * disjoint, so they need no coordination beyond the wait at the end of the phase.
 */
final class RangeWorkers implements AutoCloseable {
  /** Beyond a few threads a rank's copies are bound by the memory, not by the cores. */
  private static final int MAX_PARTS = 4;

  /** One thread's share of a phase. */
  @FunctionalInterface
  interface Part {
    /** Works on {@code [from, to)}, with the scratch of part {@code part}. */
    void run(int part, int from, int to);
  }

  private final int parts;
  /** Null with one part: the caller's thread does all. */
  private final ExecutorService helpers;

  RangeWorkers(int parts, String name) {
    if (parts < 1) {
      throw new IllegalArgumentException("parts must be >= 1, got " + parts);
    }
    this.parts = parts;
    this.helpers = parts == 1 ? null : Executors.newFixedThreadPool(parts - 1, r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /** Parts for a rank among {@code ranks} on this host: its share of the cores, 1 to 4. */
  static int partsFor(int ranks) {
    return Math.max(1, Math.min(MAX_PARTS, Runtime.getRuntime().availableProcessors() / ranks));
  }

  int parts() {
    return parts;
  }

  /** Runs {@code body} over {@code [from, to)} cut into equal parts and waits for all of them. */
  void run(int from, int to, Part body) {
    int n = to - from;
    List<Future<?>> running = new ArrayList<>();
    for (int p = 0; p < parts - 1; p++) {
      int part = p;
      int lo = from + (int) ((long) n * p / parts);
      int hi = from + (int) ((long) n * (p + 1) / parts);
      if (lo < hi) {
        running.add(helpers.submit(() -> body.run(part, lo, hi)));
      }
    }
    body.run(parts - 1, from + (int) ((long) n * (parts - 1) / parts), to);
    for (Future<?> f : running) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw e.getCause() instanceof RuntimeException r ? r
            : new IllegalStateException("a copy thread failed", e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ExchangeException("interrupted while copying into the shared arena", e);
      }
    }
  }

  @Override
  public void close() {
    if (helpers != null) {
      helpers.shutdownNow();
    }
  }
}
