package io.mobaspark.kernels.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;

/**
 * A fixed pool of worker threads for the CPU backend's data-parallel loops. Work is split into
 * contiguous index ranges; per-index results never depend on the split, and reductions use a split
 * that depends only on the problem size, so results are identical for any thread count.
 */
public final class Parallel implements AutoCloseable {

  /** The body of a parallel loop over {@code [start, end)}. */
  @FunctionalInterface
  public interface RangeBody {
    void run(int start, int end);
  }

  /** A partial sum over {@code [start, end)}. */
  @FunctionalInterface
  public interface RangeSum {
    double sum(int start, int end);
  }

  /** Elements per reduction chunk: fixed, so reduction order does not depend on thread count. */
  private static final int REDUCTION_CHUNK = 1 << 14;

  private final int threads;
  private final ForkJoinPool pool;

  public Parallel(int threads) {
    if (threads <= 0) {
      throw new IllegalArgumentException("threads must be positive, got " + threads);
    }
    this.threads = threads;
    this.pool = threads == 1 ? null : new ForkJoinPool(threads);
  }

  public int threads() {
    return threads;
  }

  /**
   * Runs {@code body} over {@code [0, n)} split into contiguous ranges of at least {@code grain}
   * indices (grain = the smallest amount of work worth a task).
   */
  public void forRange(int n, int grain, RangeBody body) {
    if (n <= 0) {
      return;
    }
    int tasks = (int) Math.min((long) threads * 4, Math.max(1, n / Math.max(1, grain)));
    if (pool == null || tasks <= 1) {
      body.run(0, n);
      return;
    }
    List<Callable<Void>> work = new ArrayList<>(tasks);
    for (int i = 0; i < tasks; i++) {
      int start = (int) ((long) n * i / tasks);
      int end = (int) ((long) n * (i + 1) / tasks);
      work.add(() -> {
        body.run(start, end);
        return null;
      });
    }
    runAll(work);
  }

  /** Sum over {@code [0, n)} in fixed chunks added in index order: thread-count independent. */
  public double sum(int n, RangeSum partial) {
    int chunks = Math.max(1, (n + REDUCTION_CHUNK - 1) / REDUCTION_CHUNK);
    double[] parts = new double[chunks];
    forRange(chunks, 1, (c0, c1) -> {
      for (int c = c0; c < c1; c++) {
        parts[c] = partial.sum(c * REDUCTION_CHUNK, Math.min(n, (c + 1) * REDUCTION_CHUNK));
      }
    });
    double total = 0;
    for (double p : parts) {
      total += p;
    }
    return total;
  }

  private void runAll(List<Callable<Void>> work) {
    List<Future<Void>> futures = pool.invokeAll(work);
    for (Future<Void> f : futures) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for CPU kernel workers", e);
      } catch (java.util.concurrent.ExecutionException e) {
        Throwable cause = e.getCause();
        if (cause instanceof RuntimeException re) {
          throw re;
        }
        if (cause instanceof Error err) {
          throw err;
        }
        throw new IllegalStateException("CPU kernel worker failed", cause);
      }
    }
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdown();
    }
  }
}
