package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.LocalCluster;
import io.mobaspark.jobs.TestSchemeFileSystem;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import io.mobaspark.trainer.testing.MetricsCurves;
import io.mobaspark.trainer.testing.SingleRankEquivalent;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.executor.CoarseGrainedExecutorBackend;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pretrain job on two real executor JVMs (local-cluster, one fake GPU each, CPU backend): two
 * ranks reproduce the single-rank run on the same global batch, with either exchange, and a run
 * whose executor is killed mid-run resumes from its last checkpoint and ends with every step once,
 * in a local run folder or in one on a Hadoop FileSystem.
 */
class DistributedPretrainTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int STEPS = 40;
  /** The exchange's fp32 rounding (1e-7 at step 1), compounded over 40 steps: well under 1e-4. */
  private static final double LOSS_TOLERANCE = 1e-4;

  @TempDir static Path scratch;
  private static SparkSession spark;
  private static List<JsonNode> reference;

  @BeforeAll
  static void startClusterAndTrainTheReference() throws Exception {
    spark = LocalCluster.start("DistributedPretrainTest", 2, 1024, scratch);
    // On the driver only: the executors get it with the tasks (PretrainJob's broadcast).
    spark.sparkContext().hadoopConfiguration().set(TestSchemeFileSystem.IMPL_KEY,
        TestSchemeFileSystem.class.getName());
    CorpusPacker.pack(documents(400, 1).iterator(), Tokenizers.byName(Tokenizers.BYTES),
        scratch.resolve("data/train"), 8192);
    CorpusPacker.pack(documents(40, 2).iterator(), Tokenizers.byName(Tokenizers.BYTES),
        scratch.resolve("data/val"), 8192);
    Path single = scratch.resolve("single");
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 1)) {
      SingleRankEquivalent.run(overrides(single, "driver"), backend, single, quiet());
    }
    reference = MetricsCurves.read(single);
  }

  @AfterAll
  static void stopCluster() {
    spark.stop();
  }

  /** The two executors share a host: ring neighbours on local sockets, or the shared arena. */
  @ParameterizedTest
  @ValueSource(strings = {"ring", "shared"})
  void twoRanksMatchOneRankOnTheSameGlobalBatch(String kind) throws Exception {
    Path run = scratch.resolve(kind);
    TrainSummary summary = train(overrides(run, kind), new ByteArrayOutputStream());
    assertEquals(STEPS, summary.stepsThisRun());
    MetricsCurves.assertSameCurve(reference, MetricsCurves.read(run), LOSS_TOLERANCE);
  }

  /**
   * With the shared kind: the surviving rank notices its peer's process end through the closed
   * connection to rank 0 (or rank 0's), and a retry joins a fresh arena.
   */
  @Test
  void aKilledExecutorCostsARetryFromTheLastCheckpointAndNoStep() throws Exception {
    Path run = scratch.resolve("killed");
    Path metrics = run.resolve(TrainingLoop.METRICS_FILE);
    assertAKilledExecutorCostsNoStep(overrides(run, "shared"), run,
        () -> lastStep(metrics) >= 12);
  }

  /**
   * The executors reach the test scheme only through the driver's Hadoop configuration, which the
   * job ships to them; progress reaches the driver through the metrics rank 0 uploads.
   */
  @Test
  void aKilledExecutorResumesFromARunDirOnAHadoopFileSystem() throws Exception {
    Path run = scratch.resolve("killed-remote");
    Map<String, String> o = overrides(run, "driver");
    o.put("run.dir", TestSchemeFileSystem.uri(run));
    Path tenth = run.resolve("checkpoints/step-00000010/" + RemoteCheckpoints.MARKER);
    assertAKilledExecutorCostsNoStep(o, run, () -> Files.exists(tenth));
  }

  /**
   * Kills an executor once {@code checkpointed} holds (a checkpoint at step 10 is behind it); the
   * job must still end with every step once in {@code run}'s metrics and the reference's losses.
   */
  private static void assertAKilledExecutorCostsNoStep(Map<String, String> overrides, Path run,
      Callable<Boolean> checkpointed) throws Exception {
    ByteArrayOutputStream driverConsole = new ByteArrayOutputStream();
    CompletableFuture<TrainSummary> job =
        CompletableFuture.supplyAsync(() -> train(overrides, driverConsole));
    long killed = killAnExecutorWhen(checkpointed, job);
    TrainSummary summary = job.get(3, TimeUnit.MINUTES);

    assertEquals(STEPS, summary.step());
    assertTrue(summary.stepsThisRun() > 0 && summary.stepsThisRun() <= STEPS - 10,
        "the last attempt resumed from a checkpoint at step >= 10 (executor " + killed
            + " killed): it trained " + summary.stepsThisRun() + " steps");
    List<JsonNode> lines = MetricsCurves.read(run);
    List<Integer> steps = lines.stream().filter(n -> n.has("loss"))
        .map(n -> n.get("step").asInt()).toList();
    assertEquals(STEPS, steps.size(), "one line per step: " + steps);
    for (int i = 0; i < STEPS; i++) {
      assertEquals(i + 1, steps.get(i), "steps in order, none lost or repeated: " + steps);
    }
    MetricsCurves.assertSameCurve(reference, lines, LOSS_TOLERANCE);
    String printed = driverConsole.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("[pretrain] step 40/40 | loss"), printed);
  }

  @Test
  void aFailureThatARetryWouldRepeatEndsTheJobAtOnceWithItsMessage() {
    // The reference run folder holds single-rank checkpoints: every rank refuses to resume them.
    Path single = scratch.resolve("single");
    long start = System.nanoTime();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> train(overrides(single, "driver"), new ByteArrayOutputStream()));
    assertTrue(e.getMessage().contains("run.ranks = 2")
        && e.getMessage().contains("a run of 1 ranks"), e.getMessage());
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30),
        "cancelled, not retried " + spark.sparkContext().getConf()
            .get("spark.stage.maxConsecutiveAttempts", "4") + " times");
  }

  private static TrainSummary train(Map<String, String> overrides, ByteArrayOutputStream console) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    return PretrainJob.run(jsc, PretrainConfig.load(null, overrides),
        new PrintStream(console, true, StandardCharsets.UTF_8));
  }

  /**
   * Waits until {@code due} holds, then kills one executor JVM, a child process of this JVM in
   * local-cluster mode, as a crash would.
   */
  private static long killAnExecutorWhen(Callable<Boolean> due, CompletableFuture<?> job)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
    while (!due.call()) {
      assertTrue(!job.isDone() && System.nanoTime() < deadline, "the run ended or stalled "
          + "before the kill: " + (job.isDone() ? job.join() : "no progress"));
      Thread.sleep(10);
    }
    ProcessHandle executor = ProcessHandle.current().descendants()
        .filter(DistributedPretrainTest::isExecutor)
        .findFirst().orElseThrow(() -> new AssertionError("no executor process found"));
    assertTrue(executor.destroyForcibly(), "kill executor " + executor.pid());
    return executor.pid();
  }

  /**
   * Whether {@code process} runs Spark's executor main class. Read from /proc: the JDK's
   * {@code ProcessHandle.Info} cuts long command lines (the test classpath) short.
   */
  private static boolean isExecutor(ProcessHandle process) {
    try {
      return Files.readString(Path.of("/proc", Long.toString(process.pid()), "cmdline"),
          StandardCharsets.ISO_8859_1).contains(CoarseGrainedExecutorBackend.class.getName());
    } catch (IOException gone) {
      return false;
    }
  }

  private static int lastStep(Path metrics) throws IOException {
    if (!Files.exists(metrics)) {
      return 0;
    }
    int last = 0;
    for (String line : Files.readAllLines(metrics)) {
      if (line.contains("\"loss\"")) {
        last = JSON.readTree(line).get("step").asInt();
      }
    }
    return last;
  }

  /** Two ranks of a tiny hybrid model, checkpoints every 10 steps, {@code kind} exchange. */
  private static Map<String, String> overrides(Path runDir, String kind) {
    Map<String, String> o = TestConfigs.hybridOnBytes(scratch.resolve("data"), runDir);
    o.put("train.seq_len", "128");
    o.put("train.max_steps", Integer.toString(STEPS));
    o.put("train.warmup_steps", "5");
    o.put("train.eval_every", "20");
    o.put("train.checkpoint_every", "10");
    o.put("train.log_every", "10");
    o.put("run.backend", "cpu");
    o.put("run.ranks", "2");
    o.put("exchange.kind", kind);
    o.put("exchange.timeout", "60s");
    return o;
  }

  /** Short sentences over a small vocabulary: structure a tiny model learns in a few steps. */
  static List<String> documents(int count, long seed) {
    String[] words = {"the", "river", "ran", "past", "a", "quiet", "mill", "and", "old", "stone"};
    Random random = new Random(seed);
    List<String> docs = new ArrayList<>();
    for (int d = 0; d < count; d++) {
      StringBuilder text = new StringBuilder();
      for (int w = 0; w < 20; w++) {
        text.append(words[random.nextInt(words.length)]).append(w % 7 == 6 ? ". " : " ");
      }
      docs.add(text.toString());
    }
    return docs;
  }

  private static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }
}
