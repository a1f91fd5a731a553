package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Throughput of the CPU backend's matmul at training-like shapes: M tokens against K and N from the
 * model's widths, all four transpose cases. Every shape is first checked against dot products of
 * sampled output entries, then timed; prints one table row per (K, N) with GFLOP/s per case.
 *
 * <p>Usage: {@code java -cp kernels/target/classes io.mobaspark.kernels.lab.CpuMatmulBench
 * [--threads N] [--reps R] [--tokens M] [--float64]}.
 */
public final class CpuMatmulBench {
  private static final int[] WIDTHS = {256, 768, 1024};
  private static final int CHECKED_ENTRIES = 64;
  /** Untimed runs of every transpose case before the table, so that C2 has compiled the kernel. */
  private static final int WARM_UP_RUNS = 5;

  private CpuMatmulBench() {}

  public static void main(String[] args) {
    int threads = Runtime.getRuntime().availableProcessors();
    int reps = 3;
    int tokens = 4096;
    Precision precision = Precision.FLOAT32;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--tokens" -> tokens = Integer.parseInt(args[++i]);
        case "--float64" -> precision = Precision.FLOAT64;
        default -> throw new IllegalArgumentException("unknown argument " + args[i]
            + "; expected --threads N, --reps R, --tokens M or --float64");
      }
    }
    try (Backend backend = new CpuBackend(precision, threads)) {
      for (int c = 0; c < 4; c++) {
        measure(backend, 1024, 256, 256, (c & 2) != 0, (c & 1) != 0, WARM_UP_RUNS);
      }
      System.out.printf(Locale.ROOT, "matmul GFLOP/s on %s, mean of %d after 1 warm-up%n",
          backend.description(), reps);
      System.out.printf(Locale.ROOT, "%6s %6s %6s %8s %8s %8s %8s%n",
          "M", "K", "N", "a@b", "a@bT", "aT@b", "aT@bT");
      for (int k : WIDTHS) {
        for (int n : WIDTHS) {
          StringBuilder row = new StringBuilder(
              String.format(Locale.ROOT, "%6d %6d %6d", tokens, k, n));
          for (int c = 0; c < 4; c++) {
            double gflops = measure(backend, tokens, n, k, (c & 2) != 0, (c & 1) != 0, reps);
            row.append(String.format(Locale.ROOT, " %8.1f", gflops));
          }
          System.out.println(row);
        }
      }
    }
  }

  /** GFLOP/s of {@code out[M, N] = op(a) @ op(b)} after checking sampled entries. */
  private static double measure(Backend backend, int m, int n, int k, boolean transA,
      boolean transB, int reps) {
    double[] a = random(1, m * k);
    double[] b = random(2, k * n);
    try (Tensor ta = transA ? backend.tensor("a", k, m) : backend.tensor("a", m, k);
        Tensor tb = transB ? backend.tensor("b", n, k) : backend.tensor("b", k, n);
        Tensor out = backend.tensor("out", m, n)) {
      backend.write(ta, a);
      backend.write(tb, b);
      backend.matmul(out, ta, tb, transA, transB, false);
      check(backend.read(out), backend.read(ta), backend.read(tb), m, n, k, transA, transB);
      long start = System.nanoTime();
      for (int r = 0; r < reps; r++) {
        backend.matmul(out, ta, tb, transA, transB, false);
      }
      double seconds = (System.nanoTime() - start) * 1e-9 / reps;
      return 2.0 * m * n * k / seconds * 1e-9;
    }
  }

  /** Compares sampled entries of out with dot products; relative error must stay near float32's. */
  private static void check(double[] out, double[] a, double[] b, int m, int n, int k,
      boolean transA, boolean transB) {
    SplittableRandom random = new SplittableRandom(3);
    for (int s = 0; s < CHECKED_ENTRIES; s++) {
      int i = random.nextInt(m);
      int j = random.nextInt(n);
      double dot = 0;
      double magnitude = 0;
      for (int kk = 0; kk < k; kk++) {
        double product = (transA ? a[kk * m + i] : a[i * k + kk])
            * (transB ? b[j * k + kk] : b[kk * n + j]);
        dot += product;
        magnitude += Math.abs(product);
      }
      if (Math.abs(out[i * n + j] - dot) > 1e-6 * magnitude) {
        throw new IllegalStateException("matmul is wrong at [" + i + ", " + j + "] for M=" + m
            + " N=" + n + " K=" + k + " transA=" + transA + " transB=" + transB + ": "
            + out[i * n + j] + " vs " + dot);
      }
    }
  }

  private static double[] random(long seed, int count) {
    SplittableRandom random = new SplittableRandom(seed);
    double[] values = new double[count];
    for (int i = 0; i < count; i++) {
      values[i] = 2 * random.nextDouble() - 1;
    }
    return values;
  }
}
