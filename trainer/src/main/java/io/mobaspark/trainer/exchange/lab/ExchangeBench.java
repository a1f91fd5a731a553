package io.mobaspark.trainer.exchange.lab;

import io.mobaspark.trainer.exchange.DriverAggregator;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.GradientExchanges;
import io.mobaspark.trainer.exchange.WireDType;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Per-step exchange time of {@code driver}, {@code ring} and the host {@code shared} kind with every
 * rank a thread of this JVM on loopback (docs/perf/exchange.md; the device shared kind, whose
 * ranks must be processes: {@link DeviceSharedBench}). Each step starts with all ranks released together; rank 0's
 * wall time of {@code allReduceMean} is the step's time. Prints one table row per kind and world
 * size: median and min over the timed steps, algorithm bandwidth (gradient fp32 bytes / time), and
 * the CPU time this process spent per timed step (all ranks and the driver, user and kernel): on a
 * shared machine the wall time depends on the other processes, the CPU time much less.
 *
 * <pre>
 * java -Xmx8g -cp trainer/target/classes io.mobaspark.trainer.exchange.lab.ExchangeBench \
 *     [params=50000000] [ranks=2,4] [kinds=driver,ring,shared] [wire=fp32] [steps=5] [bucket_mib=4]
 * </pre>
 */
public final class ExchangeBench {
  /** A model's gradient is many tensors of very different sizes; these are its shares. */
  private static final double[] TENSOR_SHARES = {0.30, 0.20, 0.15, 0.15, 0.10, 0.05, 0.05};

  private ExchangeBench() {}

  public static void main(String[] args) throws Exception {
    long params = 50_000_000;
    int[] worlds = {2, 4};
    List<ExchangeSpec.Kind> kinds = List.of(ExchangeSpec.Kind.DRIVER, ExchangeSpec.Kind.RING,
        ExchangeSpec.Kind.SHARED);
    WireDType wire = WireDType.FP32;
    int steps = 5;
    int bucketMiB = 4;
    for (String arg : args) {
      String[] kv = arg.split("=", 2);
      if (kv.length != 2) {
        throw new IllegalArgumentException("arguments are key=value, got '" + arg + "'");
      }
      switch (kv[0]) {
        case "params" -> params = Long.parseLong(kv[1]);
        case "ranks" -> worlds = Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt)
            .toArray();
        case "kinds" -> kinds = Arrays.stream(kv[1].split(",")).map(ExchangeSpec.Kind::parse)
            .toList();
        case "wire" -> wire = WireDType.valueOf(kv[1].toUpperCase());
        case "steps" -> steps = Integer.parseInt(kv[1]);
        case "bucket_mib" -> bucketMiB = Integer.parseInt(kv[1]);
        default -> throw new IllegalArgumentException("unknown argument '" + kv[0] + "'");
      }
    }
    System.out.printf("gradient: %,d fp32 parameters (%.1f MB) in %d tensors, wire %s, buckets "
        + "%d MiB, %d timed steps after 1 warm-up, %d cores%n", params, params * 4 / 1e6,
        TENSOR_SHARES.length, wire, bucketMiB, steps, Runtime.getRuntime().availableProcessors());
    System.out.println("| kind | ranks | median ms | min ms | algbw GB/s | CPU ms per step |");
    System.out.println("|---|---|---|---|---|---|");
    for (ExchangeSpec.Kind kind : kinds) {
      for (int ranks : worlds) {
        long cpuBefore = processCpuNanos();
        double[] ms = measure(kind, ranks, params, wire, bucketMiB << 20, steps);
        double cpuPerStep = (processCpuNanos() - cpuBefore - timedCpuExcluded) / 1e6 / steps;
        double median = median(ms);
        System.out.printf("| %s | %d | %.0f | %.0f | %.2f | %.0f |%n", kind.name().toLowerCase(),
            ranks, median, Arrays.stream(ms).min().orElseThrow(),
            params * 4 / (median / 1e3) / 1e9, cpuPerStep);
      }
    }
  }

  /**
   * CPU time of the set-up and warm-up of the last {@link #measure} (gradients, connections, the
   * first step), which the CPU column leaves out.
   */
  private static volatile long timedCpuExcluded;

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** Milliseconds of rank 0's exchange, per timed step. */
  private static double[] measure(ExchangeSpec.Kind kind, int ranks, long params, WireDType wire,
      int bucketBytes, int steps) throws Exception {
    String secret = GradientExchanges.newSecret();
    int timeoutMillis = 300_000;
    DriverAggregator driver = kind == ExchangeSpec.Kind.DRIVER
        ? DriverAggregator.start("127.0.0.1", 0, ranks, secret, bucketBytes, wire, timeoutMillis)
        : null;
    ExchangeSpec spec = driver != null ? driver.spec()
        : new ExchangeSpec(kind, ranks, "", secret, bucketBytes, wire, timeoutMillis);
    long setUpStart = processCpuNanos();
    ThreadRendezvous rendezvous = new ThreadRendezvous(ranks);
    CyclicBarrier start = new CyclicBarrier(ranks);
    ExecutorService threads = Executors.newFixedThreadPool(ranks);
    try {
      List<Future<double[]>> futures = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        int rank = r;
        futures.add(threads.submit(() -> {
          List<float[]> gradient = gradient(params, rank);
          double[] ms = new double[steps];
          try (GradientExchange exchange = GradientExchanges.open(spec, rank, "127.0.0.1",
              rendezvous.forRank(rank))) {
            for (int step = 0; step <= steps; step++) {
              start.await();
              if (step == 1 && rank == 0) {
                timedCpuExcluded = processCpuNanos() - setUpStart;
              }
              long t0 = System.nanoTime();
              exchange.allReduceMean(step, gradient);
              if (step > 0) {
                ms[step - 1] = (System.nanoTime() - t0) / 1e6;
              }
            }
          }
          return ms;
        }));
      }
      double[] rank0 = futures.get(0).get();
      for (Future<double[]> f : futures) {
        f.get();
      }
      return rank0;
    } finally {
      threads.shutdownNow();
      if (driver != null) {
        driver.close();
      }
    }
  }

  private static List<float[]> gradient(long params, int rank) {
    SplittableRandom random = new SplittableRandom(rank);
    List<float[]> tensors = new ArrayList<>();
    long left = params;
    for (int i = 0; i < TENSOR_SHARES.length; i++) {
      int n = (int) (i == TENSOR_SHARES.length - 1 ? left : params * TENSOR_SHARES[i]);
      float[] t = new float[n];
      for (int k = 0; k < n; k++) {
        t[k] = (float) (random.nextGaussian() * 1e-3);
      }
      tensors.add(t);
      left -= n;
    }
    return tensors;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
