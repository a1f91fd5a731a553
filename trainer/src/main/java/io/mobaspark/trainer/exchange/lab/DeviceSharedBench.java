package io.mobaspark.trainer.exchange.lab;

import io.mobaspark.kernels.cuda.CudaContext;
import io.mobaspark.kernels.cuda.CudaDevice;
import io.mobaspark.kernels.cuda.DeviceBuffer;
import io.mobaspark.kernels.cuda.DeviceArena;
import io.mobaspark.trainer.exchange.DeviceSharedExchange;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.GradientExchanges;
import io.mobaspark.trainer.exchange.WireDType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The {@code shared} kind with the gradients on a GPU (docs/perf/exchange.md): {@code N} training
 * processes of one machine (JVMs, as Spark executors are), each with its fp32 gradient arena in
 * device memory, rank r on device r mod GPUs (on a machine of one GPU all ranks share it). Per
 * world size, every rank:
 * <ol>
 *   <li>checks at an awkward size (1,000,003 elements: slices start off any 16-byte boundary):
 *       rank 0 compares the device mean bit for bit with the host rule (double sum in rank order,
 *       times 1/N, rounded once: the driver's and the host shared kind's), every rank prints a hash
 *       of its result (all must agree);
 *   <li>does the same at {@code params} elements, then times {@code steps} averages after
 *       {@code warmup}: the wall time of {@link DeviceSharedExchange#allReduceMean}, device work
 *       included (it waits for it);
 *   <li>times a device copy of the gradient into an arena and back, what a training step adds
 *       where its gradients do not live in the arena;
 *   <li>averages the same gradient on the host with the {@code ring} and the host {@code shared}
 *       kind ({@code host_steps} timed after one warm-up), and rank 0 compares them with the device's
 *       result: shared bit for bit, ring within float tolerance (it rounds every partial sum).
 * </ol>
 * The parent process starts the ranks, writes their logs to {@code out} and prints one table.
 *
 * <pre>
 * java -cp ... io.mobaspark.trainer.exchange.lab.DeviceSharedBench [ranks=2,4] \
 *     [params=50000000] [steps=20] [warmup=3] [host_steps=3] [out=folder] [device=true]
 * </pre>
 * {@code device=false} runs the host kinds alone (a machine without a GPU).
 * <pre>
 * </pre>
 */
public final class DeviceSharedBench {
  private static final int AWKWARD = 1_000_003;
  private static final String SECRET_ENV = "MOBASPARK_BENCH_SECRET";

  private DeviceSharedBench() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> opts = new LinkedHashMap<>(Map.of("ranks", "2,4", "params", "50000000",
        "steps", "20", "warmup", "3", "host_steps", "3", "out", ".", "device", "true"));
    for (String arg : args) {
      String[] kv = arg.split("=", 2);
      if (kv.length != 2) {
        throw new IllegalArgumentException("arguments are key=value, got '" + arg + "'");
      }
      opts.put(kv[0], kv[1]);
    }
    if (opts.containsKey("rank")) {
      Rank.run(opts);
    } else {
      parent(opts);
    }
  }

  /** Starts each world's ranks as processes and prints their results as one table. */
  private static void parent(Map<String, String> opts) throws Exception {
    Path out = Path.of(opts.get("out"));
    Files.createDirectories(out);
    List<String> table = new ArrayList<>();
    table.add(String.format("%-6s %-14s %-10s %9s %9s %9s  %s", "ranks", "kind", "elements",
        "median_ms", "min_ms", "max_rank_median", "check"));
    for (String world : opts.get("ranks").split(",")) {
      int ranks = Integer.parseInt(world);
      Path rendezvous = Files.createTempDirectory("mobaspark-bench-rendezvous-");
      List<Process> processes = new ArrayList<>();
      List<Path> logs = new ArrayList<>();
      String secret = GradientExchanges.newSecret();
      for (int r = 0; r < ranks; r++) {
        List<String> command = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx12g",
            "-cp", System.getProperty("java.class.path"), DeviceSharedBench.class.getName(),
            "rank=" + r, "world=" + ranks, "dir=" + rendezvous));
        for (String key : List.of("params", "steps", "warmup", "host_steps", "device")) {
          command.add(key + "=" + opts.get(key));
        }
        Path log = out.resolve("ranks" + ranks + "-rank" + r + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectOutput(log.toFile());
        builder.environment().put(SECRET_ENV, secret);
        processes.add(builder.start());
        logs.add(log);
      }
      for (int r = 0; r < ranks; r++) {
        if (!processes.get(r).waitFor(400, TimeUnit.SECONDS)) {
          processes.forEach(Process::destroyForcibly);
          throw new IllegalStateException("rank " + r + " of " + ranks + " did not finish");
        }
      }
      table.addAll(rows(ranks, logs));
    }
    table.forEach(System.out::println);
  }

  /** Table rows from the ranks' {@code RESULT} lines: rank 0's figures, every rank's median. */
  private static List<String> rows(int ranks, List<Path> logs) throws Exception {
    Map<String, List<Map<String, String>>> byKind = new LinkedHashMap<>();
    for (int r = 0; r < ranks; r++) {
      List<String> lines = Files.readAllLines(logs.get(r));
      if (lines.stream().noneMatch(l -> l.startsWith("RESULT "))) {
        return List.of(ranks + " ranks: rank " + r + " printed no result, see " + logs.get(r));
      }
      for (String line : lines) {
        if (line.startsWith("RESULT ")) {
          Map<String, String> fields = new LinkedHashMap<>();
          for (String kv : line.substring(7).split(" ")) {
            String[] p = kv.split("=", 2);
            fields.put(p[0], p[1]);
          }
          byKind.computeIfAbsent(fields.get("kind") + "/" + fields.get("elements"),
              k -> new ArrayList<>()).add(fields);
        }
      }
    }
    List<String> rows = new ArrayList<>();
    for (List<Map<String, String>> results : byKind.values()) {
      Map<String, String> zero = results.get(0);
      double worst = results.stream().mapToDouble(f -> Double.parseDouble(f.get("median_ms")))
          .max().orElse(Double.NaN);
      boolean sameHash = results.stream().map(f -> f.get("hash")).distinct().count() == 1;
      rows.add(String.format("%-6d %-14s %-10s %9s %9s %9.2f  %s; ranks agree: %s", ranks,
          zero.get("kind"), zero.get("elements"), zero.get("median_ms"), zero.get("min_ms"), worst,
          zero.get("check"), sameHash && results.size() == ranks));
    }
    return rows;
  }

  /** One rank's process. */
  private static final class Rank {
    private final int rank;
    private final int ranks;
    private final Path dir;
    private final String secret = System.getenv(SECRET_ENV);
    private Reference reference;

    private Rank(int rank, int ranks, Path dir) {
      this.rank = rank;
      this.ranks = ranks;
      this.dir = dir;
    }

    static void run(Map<String, String> opts) {
      Rank self = new Rank(Integer.parseInt(opts.get("rank")), Integer.parseInt(opts.get("world")),
          Path.of(opts.get("dir")));
      int params = Integer.parseInt(opts.get("params"));
      int steps = Integer.parseInt(opts.get("steps"));
      int warmup = Integer.parseInt(opts.get("warmup"));
      int hostSteps = Integer.parseInt(opts.get("host_steps"));
      if (!Boolean.parseBoolean(opts.get("device"))) {
        self.host(ExchangeSpec.Kind.RING, params, hostSteps, null);
        self.host(ExchangeSpec.Kind.SHARED, params, hostSteps, null);
        return;
      }
      // One GPU per rank where there are enough (rank r on device r mod GPUs), else ranks share.
      try (CudaContext context = CudaContext.open(self.rank % CudaDevice.count())) {
        self.device(context, AWKWARD, 0, 0);
        float[] onDevice = self.device(context, params, warmup, steps);
        self.host(ExchangeSpec.Kind.RING, params, hostSteps, onDevice);
        self.host(ExchangeSpec.Kind.SHARED, params, hostSteps, onDevice);
      }
    }

    private ExchangeSpec spec(ExchangeSpec.Kind kind) {
      return new ExchangeSpec(kind, ranks, "", secret, 4 << 20, WireDType.FP32, 120_000);
    }

    /** The device exchange's result at {@code elements}, checked, then timed. */
    private float[] device(CudaContext context, int elements, int warmup, int steps) {
      float[] mean = gradient(elements, rank);
      double[] ms = new double[steps];
      try (DeviceArena arena = DeviceArena.allocate(context, elements)) {
        arena.buffer().write(mean);
        try (DeviceSharedExchange exchange = DeviceSharedExchange.join(spec(
            ExchangeSpec.Kind.SHARED), rank, "127.0.0.1",
            new FileRendezvous(dir, "device" + elements, rank, ranks), arena)) {
          exchange.allReduceMean(1);
          arena.buffer().read(mean);
          for (int s = 0; s < warmup + steps; s++) {
            long t0 = System.nanoTime();
            exchange.allReduceMean(2 + s);
            if (s >= warmup) {
              ms[s - warmup] = (System.nanoTime() - t0) / 1e6;
            }
          }
        }
      }
      String check = rank == 0 ? check(mean, elements) : "-";
      report("device-shared", elements, ms, check, mean);
      if (steps > 0) {
        report("device-copy-in-out", elements, copyInAndOut(context, elements, steps), "-", mean);
      }
      return mean;
    }

    /**
     * What a training step would add where the gradients do not live in the arena: one device copy
     * of the gradient into the arena and one back, timed together (all ranks at once).
     */
    private static double[] copyInAndOut(CudaContext context, int elements, int steps) {
      double[] ms = new double[steps];
      try (DeviceBuffer gradients = context.allocate(4L * elements);
          DeviceBuffer arena = context.allocate(4L * elements)) {
        for (int s = -1; s < steps; s++) {
          long t0 = System.nanoTime();
          arena.copyFrom(gradients, 4L * elements);
          gradients.copyFrom(arena, 4L * elements);
          context.synchronize();
          if (s >= 0) {
            ms[s] = (System.nanoTime() - t0) / 1e6;
          }
        }
      }
      return ms;
    }

    /** A host kind on the same gradient, timed; rank 0 compares it with the device's result. */
    private void host(ExchangeSpec.Kind kind, int elements, int steps, float[] onDevice) {
      float[] mean = gradient(elements, rank);
      double[] ms = new double[steps];
      try (GradientExchange exchange = GradientExchanges.open(spec(kind), rank, "127.0.0.1",
          new FileRendezvous(dir, kind + "" + elements, rank, ranks))) {
        exchange.allReduceMean(1, List.of(mean));
        float[] again = mean.clone();
        for (int s = 0; s <= steps; s++) {
          long t0 = System.nanoTime();
          exchange.allReduceMean(2 + s, List.of(again));
          if (s > 0) {
            ms[s - 1] = (System.nanoTime() - t0) / 1e6;
          }
        }
      }
      String check = rank != 0 ? "-" : check(mean, elements)
          + (onDevice == null ? "" : versusDevice(mean, onDevice));
      report("host-" + kind.name().toLowerCase(), elements, ms, check, mean);
    }

    /** Rank 0's reference at {@code elements}: the host rule's means and each sum of |v|. */
    private record Reference(float[] mean, double[] magnitude) {}

    private Reference reference(int elements) {
      if (reference == null || reference.mean().length != elements) {
        double[] sum = new double[elements];
        double[] magnitude = new double[elements];
        for (int r = 0; r < ranks; r++) {
          float[] g = gradient(elements, r);
          for (int i = 0; i < elements; i++) {
            sum[i] = r == 0 ? g[i] : sum[i] + g[i];
            magnitude[i] += Math.abs(g[i]);
          }
        }
        float[] mean = new float[elements];
        double scale = 1.0 / ranks;
        for (int i = 0; i < elements; i++) {
          mean[i] = (float) (sum[i] * scale);
        }
        reference = new Reference(mean, magnitude);
      }
      return reference;
    }

    /**
     * How {@code got} compares with the host rule: elements whose bits differ, and the largest gap
     * in units of the element's sum of |v| over the ranks (the ring's bound is N roundings of at
     * most 2^-24 of it: AllReduceTest).
     */
    private String check(float[] got, int elements) {
      Reference ref = reference(elements);
      long differ = 0;
      double worst = 0;
      for (int i = 0; i < elements; i++) {
        if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(ref.mean()[i])) {
          differ++;
          worst = Math.max(worst, Math.abs(got[i] - ref.mean()[i]) / ref.magnitude()[i]);
        }
      }
      return "bits differ from the host rule at " + differ + "/" + elements
          + ", max gap/sum|v| " + String.format("%.2e", worst);
    }

    /** Elements whose bits differ between a host kind's result and the device's. */
    private static String versusDevice(float[] host, float[] device) {
      long differ = 0;
      for (int i = 0; i < host.length; i++) {
        if (Float.floatToRawIntBits(host[i]) != Float.floatToRawIntBits(device[i])) {
          differ++;
        }
      }
      return ", and from the device's at " + differ;
    }

    private void report(String kind, int elements, double[] ms, String check, float[] mean) {
      double[] sorted = ms.clone();
      Arrays.sort(sorted);
      String median = sorted.length == 0 ? "-" : String.format("%.2f", sorted[sorted.length / 2]);
      String min = sorted.length == 0 ? "-" : String.format("%.2f", sorted[0]);
      System.out.println("RESULT kind=" + kind + " elements=" + elements + " median_ms="
          + (sorted.length == 0 ? "NaN" : median) + " min_ms=" + min + " hash="
          + Arrays.hashCode(mean) + " check=" + check.replace(' ', '_') + " all_ms="
          + Arrays.toString(ms).replace(" ", ""));
    }
  }

  /** Rank {@code rank}'s gradient: random values over 20 binary orders of magnitude. */
  static float[] gradient(int elements, int rank) {
    SplittableRandom random = new SplittableRandom(1000 + rank);
    float[] g = new float[elements];
    for (int i = 0; i < elements; i++) {
      g[i] = (float) ((random.nextDouble() - 0.5) * Math.scalb(1.0, random.nextInt(-10, 10)));
    }
    return g;
  }
}
