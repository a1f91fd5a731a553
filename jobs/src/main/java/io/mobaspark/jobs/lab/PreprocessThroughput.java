package io.mobaspark.jobs.lab;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.preprocess.CleaningPath;
import io.mobaspark.jobs.preprocess.PreprocessJob;
import io.mobaspark.jobs.preprocess.PreprocessOptions;
import io.mobaspark.jobs.preprocess.PreprocessResult;
import io.mobaspark.jobs.preprocess.TextDocuments;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToIntFunction;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

/**
 * The preprocess job's end-to-end tokens/s against raw jtokkit on the same text with the same
 * number of threads: {@code PreprocessThroughput <text folder> [tokenizer] [threads] [cleaning]
 * [runs] [order]}, cleaning being {@code auto} (the default), {@code sql} or {@code jvm}
 * ({@link CleaningPath}), runs 3 by default, order {@code sequential} (the default) or
 * {@code interleaved}.
 *
 * <p>Raw: every {@code *.txt} read, unified and chunked as the job does, then encoded on a pool of
 * {@code threads}, {@code runs} times, by jtokkit's {@code encodeOrdinary} (the baseline) and then
 * by the job's own tokenizer ("raw own": for r50k_base our encoder, the same ids in less time).
 * Job: {@link PreprocessJob} in {@code local[threads]} over the same folder into a temporary
 * dataset, in a Spark session started before the first run (the first run also warms the JIT and
 * Spark). Sequential: all raw runs, then all raw own runs, then all job runs, so that the job's runs
 * come last and profit from the JIT work done before them, while raw jtokkit, which C2 compiles only
 * after seconds of encoding, runs its first runs cold. Interleaved: round after round of one raw,
 * one raw own and one job run, so that each side's k-th run has had the same warm-up and the same
 * machine load around it. Each lists its {@code runs} elapsed times in order (the warm-up shows), reports their
 * best and median, and the least CPU time the process spent in a run (every thread: tasks, Spark,
 * GC and JIT): on a busy machine it varies less than the elapsed time, and job CPU / raw CPU says
 * how much work the job adds to the tokenizer's. For the job it also reports the least CPU time its
 * Spark tasks spent in a run (Spark's {@code executorCpuTime}): the work that grows with the input,
 * without the driver's, the JIT's and the GC's; and per run, the wall time of each Spark stage and
 * of the driver's work before, between and after them ({@link StageTimes}).
 */
public final class PreprocessThroughput {
  private PreprocessThroughput() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println(
          "usage: PreprocessThroughput <text folder> [tokenizer] [threads] [auto|sql|jvm] [runs] "
          + "[sequential|interleaved]");
      System.exit(2);
    }
    Path input = Path.of(args[0]);
    String tokenizerName = args.length > 1 ? args[1] : Tokenizers.DEFAULT;
    int threads = args.length > 2 ? Integer.parseInt(args[2])
        : Runtime.getRuntime().availableProcessors();
    CleaningPath cleaning = CleaningPath.parse(args.length > 3 ? args[3] : null);
    int runs = args.length > 4 ? Integer.parseInt(args[4]) : 3;
    boolean interleaved = args.length > 5 && args[5].equals("interleaved");
    if (args.length > 5 && !interleaved && !args[5].equals("sequential")) {
      System.err.println("order must be sequential or interleaved, got " + args[5]);
      System.exit(2);
    }
    if (threads < 1 || runs < 1) {
      System.err.println("threads and runs must be >= 1, got " + threads + " and " + runs);
      System.exit(2);
    }
    PrintStream out = System.out;

    List<String> documents = documents(input);
    Encoding jtokkit = Encodings.newLazyEncodingRegistry().getEncoding(tokenizerName)
        .orElseThrow(() -> new IllegalArgumentException(
            "raw jtokkit has no encoding '" + tokenizerName + "' to compare with"));
    Tokenizer tokenizer = Tokenizers.byName(tokenizerName);
    ForkJoinPool pool = new ForkJoinPool(threads);
    // The baseline the issue names: jtokkit itself, not the job's tokenizer, which for r50k_base is
    // our own encoder (same ids, less time); that one is timed alone too, as "raw own".
    RawRuns raw = new RawRuns(pool, documents, d -> jtokkit.encodeOrdinary(d).size(), runs);
    RawRuns own = new RawRuns(pool, documents, d -> tokenizer.encode(d).length, runs);
    if (!interleaved) {
      raw.runAll();
      own.runAll();
    }
    long rawTokens;
    double[] rawSeconds = raw.seconds();
    double rawCpu;

    double[] jobSeconds = new double[runs];
    double jobCpu = Double.MAX_VALUE;
    double taskCpu = Double.MAX_VALUE;
    long jobTokens = 0;
    Path scratch = Files.createTempDirectory("preprocess-throughput");
    try (SparkSession spark = SparkSession.builder().master("local[" + threads + "]")
        .appName("PreprocessThroughput").config("spark.ui.enabled", "false").getOrCreate()) {
      spark.sparkContext().setLogLevel("WARN");
      LongAdder taskCpuNanos = new LongAdder();
      spark.sparkContext().addSparkListener(new SparkListener() {
        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
          if (end.taskMetrics() != null) {
            taskCpuNanos.add(end.taskMetrics().executorCpuTime());
          }
        }
      });
      StageTimes stageTimes = new StageTimes();
      spark.sparkContext().addSparkListener(stageTimes);
      PrintStream quiet = new PrintStream(PrintStream.nullOutputStream());
      for (int run = 0; run < runs; run++) {
        if (interleaved) {
          raw.runOnce();
          own.runOnce();
        }
        long cpu = processCpuNanos();
        // Task-end events arrive asynchronously: wait for the previous run's before resetting
        // (listenerBus is Spark-internal, public in bytecode: good enough for a lab).
        spark.sparkContext().listenerBus().waitUntilEmpty();
        taskCpuNanos.reset();
        long startMs = System.currentTimeMillis();
        PreprocessResult r = PreprocessJob.run(spark, PreprocessOptions.textFiles(
            List.of(input.toString()), scratch, tokenizerName, 0.05, 100_000_000L, 16000, threads,
            true).withCleaning(cleaning), quiet);
        jobTokens = r.train().totalTokens() + (r.val() == null ? 0 : r.val().totalTokens());
        jobSeconds[run] = r.seconds();
        long endMs = System.currentTimeMillis();
        jobCpu = Math.min(jobCpu, (processCpuNanos() - cpu) / 1e9);
        spark.sparkContext().listenerBus().waitUntilEmpty();
        taskCpu = Math.min(taskCpu, taskCpuNanos.sum() / 1e9);
        out.printf(Locale.ROOT, "job run %d: %s%n", run + 1, stageTimes.describe(startMs, endMs));
      }
    }
    pool.shutdown();
    rawTokens = raw.tokens();
    rawCpu = raw.cpu();
    out.printf(Locale.ROOT, "runs in order, seconds: raw %s, raw own %s, job %s%n",
        inOrder(rawSeconds), inOrder(own.seconds()), inOrder(jobSeconds));
    Arrays.sort(rawSeconds);
    Arrays.sort(own.seconds());
    Arrays.sort(jobSeconds);
    double rawRate = rawTokens / rawSeconds[0];
    double job = jobTokens / jobSeconds[0];
    out.printf(Locale.ROOT, "| path | tokens | seconds (best of %d) | median | tokens/s (best) "
        + "| CPU seconds (least) |%n|---|---|---|---|---|---|%n", runs);
    out.printf(Locale.ROOT, "| raw jtokkit %s, %d threads | %,d | %.2f | %.2f | %,.0f | %.2f |%n",
        tokenizerName, threads, rawTokens, rawSeconds[0], median(rawSeconds), rawRate, rawCpu);
    out.printf(Locale.ROOT, "| raw own %s (the job's), %d threads | %,d | %.2f | %.2f | %,.0f "
        + "| %.2f |%n", tokenizerName, threads, own.tokens(), own.seconds()[0],
        median(own.seconds()), own.tokens() / own.seconds()[0], own.cpu());
    out.printf(Locale.ROOT,
        "| preprocess job, local[%d], cleaning %s | %,d | %.2f | %.2f | %,.0f | %.2f |%n",
        threads, cleaning.resolve(new SparkConf(false)).name().toLowerCase(Locale.ROOT), jobTokens,
        jobSeconds[0], median(jobSeconds), job, jobCpu);
    out.printf(Locale.ROOT, "job / raw = %.0f%% (tokens/s, best), %.0f%% (median); "
        + "job CPU / raw CPU = %.2f; job task CPU = %.2f s (least), / raw CPU = %.2f; "
        + "raw own / raw = %.0f%% (tokens/s, best)%n",
        100 * job / rawRate,
        100 * (jobTokens / median(jobSeconds)) / (rawTokens / median(rawSeconds)), jobCpu / rawCpu,
        taskCpu, taskCpu / rawCpu,
        100 * (own.tokens() / own.seconds()[0]) / rawRate);
  }

  /**
   * Encoding every document on a pool, timed per run: tokens (one end-of-text per document
   * included), the elapsed seconds of each run in order, the least CPU of a run.
   */
  private static final class RawRuns {
    private final ForkJoinPool pool;
    private final List<String> documents;
    private final ToIntFunction<String> tokensOf;
    private final double[] seconds;
    private int done;
    private long tokens;
    private double cpu = Double.MAX_VALUE;

    RawRuns(ForkJoinPool pool, List<String> documents, ToIntFunction<String> tokensOf, int runs) {
      this.pool = pool;
      this.documents = documents;
      this.tokensOf = tokensOf;
      this.seconds = new double[runs];
    }

    void runAll() throws Exception {
      while (done < seconds.length) {
        runOnce();
      }
    }

    void runOnce() throws Exception {
      long cpuStart = processCpuNanos();
      long start = System.nanoTime();
      tokens = pool.submit(() -> documents.parallelStream()
          .mapToLong(d -> tokensOf.applyAsInt(d) + 1L).sum()).get();
      seconds[done++] = (System.nanoTime() - start) / 1e9;
      cpu = Math.min(cpu, (processCpuNanos() - cpuStart) / 1e9);
    }

    long tokens() {
      return tokens;
    }

    double[] seconds() {
      return seconds;
    }

    double cpu() {
      return cpu;
    }
  }

  /** The seconds of each run, in the order they ran. */
  private static String inOrder(double[] seconds) {
    StringBuilder s = new StringBuilder();
    for (double v : seconds) {
      s.append(s.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.2f", v));
    }
    return s.toString();
  }

  /** The middle of sorted {@code values} (the mean of the two middle ones for an even count). */
  private static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /** CPU time of every thread of this process so far. */
  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
        ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** The folder's text as the job reads it before its SQL cleaning: decoded, unified, chunked. */
  private static List<String> documents(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(p -> p.toString().endsWith(".txt")).sorted().flatMap(p -> {
        try {
          String text = TextDocuments.decodeUtf8(Files.readAllBytes(p), p.toString());
          return TextDocuments.chunk(TextDocuments.unifyForm(text), 16000).stream();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).toList();
    }
  }
}
