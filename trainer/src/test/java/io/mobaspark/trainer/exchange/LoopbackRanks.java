package io.mobaspark.trainer.exchange;

import io.mobaspark.trainer.exchange.lab.ThreadRendezvous;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * A data-parallel world in one JVM: one thread per rank, exchanges over loopback sockets, a driver
 * aggregator when the kind needs one, and an in-memory rendezvous for the ring.
 */
public final class LoopbackRanks {
  public static final String SECRET = "loopback-test-secret-0123456789";

  /** What each rank runs with its own exchange. */
  @FunctionalInterface
  public interface RankBody<T> {
    T run(GradientExchange exchange) throws Exception;
  }

  private LoopbackRanks() {}

  /** The spec every rank of a {@code kind} world gets (driver address filled in by {@link #run}). */
  public static ExchangeSpec spec(ExchangeSpec.Kind kind, int ranks, int bucketBytes, WireDType wire,
      int timeoutMillis) {
    return new ExchangeSpec(kind, ranks, kind == ExchangeSpec.Kind.DRIVER ? "127.0.0.1:1" : "",
        SECRET, bucketBytes, wire, timeoutMillis);
  }

  /** Runs {@code body} on every rank and returns the results by rank; rethrows the first failure. */
  public static <T> List<T> run(ExchangeSpec spec, RankBody<T> body) throws Exception {
    return run(spec, rank -> "127.0.0.1", body);
  }

  /**
   * {@link #run} with rank {@code r} listening on {@code hosts.apply(r)}: loopback addresses
   * (127.0.0.x) that differ make ring neighbours use TCP, as on separate machines, instead of
   * their local sockets.
   */
  public static <T> List<T> run(ExchangeSpec spec, IntFunction<String> hosts, RankBody<T> body)
      throws Exception {
    DriverAggregator driver = spec.kind() == ExchangeSpec.Kind.DRIVER
        ? DriverAggregator.start("127.0.0.1", 0, spec.worldSize(), spec.secret(),
            spec.bucketBytes(), spec.wire(), spec.timeoutMillis())
        : null;
    try {
      ExchangeSpec joined = driver == null ? spec : driver.spec();
      return runRanks(spec.worldSize(), (rank, board) -> {
        try (GradientExchange exchange = GradientExchanges.open(joined, rank, hosts.apply(rank),
            board.forRank(rank))) {
          return body.run(exchange);
        }
      });
    } finally {
      if (driver != null) {
        driver.close();
      }
    }
  }

  /** One thread per rank; results by rank, or the first failure (by rank order). */
  public static <T> List<T> runRanks(int ranks, Rank<T> task) throws Exception {
    ThreadRendezvous shared = new ThreadRendezvous(ranks);
    ExecutorService threads = Executors.newFixedThreadPool(ranks);
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        int rank = r;
        futures.add(threads.submit(() -> task.run(rank, shared)));
      }
      List<T> results = new ArrayList<>();
      for (Future<T> f : futures) {
        try {
          results.add(f.get(60, TimeUnit.SECONDS));
        } catch (ExecutionException e) {
          if (e.getCause() instanceof Exception cause) {
            throw cause;
          }
          throw e;
        }
      }
      return results;
    } finally {
      threads.shutdownNow();
    }
  }

  /** A rank's task, given its rank and the world's rendezvous. */
  @FunctionalInterface
  public interface Rank<T> {
    T run(int rank, ThreadRendezvous board) throws Exception;
  }
}
