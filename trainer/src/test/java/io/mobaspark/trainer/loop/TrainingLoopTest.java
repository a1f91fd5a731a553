package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.checkpoint.CheckpointFiles;
import io.mobaspark.trainer.checkpoint.CheckpointStore;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.testing.LeastSquaresModel;
import io.mobaspark.trainer.testing.SyntheticWindows;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loop's mechanics on a least-squares stand-in model (the real model: PretrainRunTest). */
class TrainingLoopTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;
  private final ByteArrayOutputStream consoleBytes = new ByteArrayOutputStream();
  private final PrintStream console = new PrintStream(consoleBytes, true, StandardCharsets.UTF_8);

  @Test
  void aResumedRunRepeatsTheUninterruptedLossCurveBitForBit() throws Exception {
    Path straight = tmp.resolve("straight");
    TrainSummary full = segment(straight, Map.of(), 12, -1);
    assertEquals(12, full.stepsThisRun());

    Path resumed = tmp.resolve("resumed");
    assertEquals(5, segment(resumed, Map.of(), 5, -1).step(), "stops early and checkpoints at 5");
    // A crash in step 8: checkpoints 3, 5, 6 exist; metrics already hold step 7.
    assertThrows(IllegalStateException.class, () -> segment(resumed, Map.of(), 12, 1));
    // A crash while checkpointing step 9 left a temp folder that looks complete.
    Path leftover = resumed.resolve("checkpoints/.tmp-step-00000009-dead");
    Files.createDirectories(leftover);
    for (String file : List.of(CheckpointFiles.MODEL, CheckpointFiles.OPTIMIZER,
        CheckpointFiles.STATE)) {
      Files.writeString(leftover.resolve(file), "torn");
    }
    assertEquals(6, new CheckpointStore(resumed).latest().orElseThrow().step());
    TrainSummary last = segment(resumed, Map.of(), 12, -1);

    assertEquals(6, last.stepsThisRun());
    assertEquals(full.step(), last.step());
    assertEquals(full.tokens(), last.tokens());
    assertEquals(full.trainLoss(), last.trainLoss());
    assertEquals(full.valLoss(), last.valLoss());
    assertFalse(Files.exists(leftover), "leftover temp folders are cleaned up");
    assertEquals(metricsWithoutTimes(straight), metricsWithoutTimes(resumed));
    Path finalCheckpoint = Path.of("checkpoints", CheckpointStore.folderName(12));
    for (String file : List.of(CheckpointFiles.MODEL, CheckpointFiles.OPTIMIZER)) {
      assertEquals(-1, Files.mismatch(straight.resolve(finalCheckpoint).resolve(file),
          resumed.resolve(finalCheckpoint).resolve(file)), file + " identical");
    }
    assertTrue(consoleBytes.toString(StandardCharsets.UTF_8).contains("resumed from "));
  }

  @Test
  void keepsTheNewestCheckpointsAndStopsWhenTheRunIsComplete() throws Exception {
    Path run = tmp.resolve("run");
    segment(run, Map.of("train.keep_checkpoints", "2"), 12, -1);
    List<Integer> steps = new ArrayList<>();
    new CheckpointStore(run).complete().forEach(c -> steps.add(c.step()));
    assertEquals(List.of(9, 12), steps);

    TrainSummary again = segment(run, Map.of("train.keep_checkpoints", "2"), 12, -1);
    assertEquals(0, again.stepsThisRun());
    assertEquals(12, again.step());
    assertTrue(Double.isFinite(again.valLoss()), "the summary comes from the checkpoint");
  }

  @Test
  void metricsHoldOneJsonLinePerStepAndPerEvaluation() throws Exception {
    Path run = tmp.resolve("metrics");
    TrainSummary summary = segment(run, Map.of("train.grad_accum", "2"), 12, -1);
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve(TrainingLoop.METRICS_FILE))) {
      lines.add(JSON.readTree(line));
    }
    List<JsonNode> train = lines.stream().filter(n -> n.has("loss")).toList();
    List<JsonNode> eval = lines.stream().filter(n -> n.has("val_loss")).toList();
    assertEquals(12, train.size());
    assertEquals(List.of(4, 8, 12), eval.stream().map(n -> n.get("step").asInt()).toList());
    for (int i = 0; i < train.size(); i++) {
      JsonNode n = train.get(i);
      for (String field : List.of("step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s",
          "elapsed_s")) {
        assertTrue(n.get(field).isNumber(), field + " in " + n);
      }
      assertFalse(n.has("exchange_wait_ms"), "one rank exchanges nothing: " + n);
      assertEquals(i + 1, n.get("step").asInt());
      assertEquals(32L * (i + 1), n.get("tokens").asLong(), "2 x 8 tokens x 2 micro-batches");
    }
    assertEquals(0.005, train.get(11).get("lr").asDouble(), 1e-12, "min_lr at max_steps");
    assertEquals(summary.trainLoss(), train.get(11).get("loss").asDouble());
    assertEquals(summary.valLoss(), eval.get(2).get("val_loss").asDouble());
    assertEquals(5, summary.parameters());

    String out = consoleBytes.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("step  2/12 | loss "), out);
    assertTrue(out.contains("| lr ") && out.contains(" tok/s | elapsed ") && out.contains("| eta "),
        out);
    assertTrue(out.contains("eval  8/12 | val_loss "), out);
  }

  @Test
  void aTimeBudgetEndsTheRunAtTheStepThatSpendsItWithAnEvaluationAndACheckpoint() throws Exception {
    Path straight = tmp.resolve("straight");
    segment(straight, Map.of(), 12, -1);

    // 1e-9 minutes is 60 ns: the first step spends it.
    Map<String, String> tiny = Map.of("train.max_minutes", "1e-9");
    Path run = tmp.resolve("budget");
    TrainSummary first = segment(run, tiny, 12, -1);
    assertEquals(1, first.step());
    assertTrue(Double.isFinite(first.valLoss()), "evaluated at the step that spent the budget");
    assertEquals(1, new CheckpointStore(run).latest().orElseThrow().step());
    assertTrue(consoleBytes.toString(StandardCharsets.UTF_8).contains("step  1/12 | loss "));

    TrainSummary spent = segment(run, tiny, 12, -1);
    assertEquals(0, spent.stepsThisRun(), "a spent budget trains nothing more");
    assertEquals(1, spent.step());
    assertTrue(consoleBytes.toString(StandardCharsets.UTF_8).contains(
        "train.max_minutes = 1.0E-9 already spent"));

    TrainSummary rest = segment(run, Map.of(), 12, -1);
    assertEquals(11, rest.stepsThisRun(), "without the bound the run continues from step 1");
    assertEquals(trainLines(straight), trainLines(run), "no step lost or repeated");
  }

  @Test
  void aCheckpointOfAnotherModelIsRefusedNamingFileAndKey() {
    Path run = tmp.resolve("mismatch");
    segment(run, Map.of(), 3, -1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> segment(run, Map.of("model.d_model", "64"), 6, -1));
    assertTrue(e.getMessage().contains("model.d_model"), e.getMessage());
    assertTrue(e.getMessage().contains(CheckpointFiles.STATE), e.getMessage());
    assertTrue(e.getMessage().contains(CheckpointStore.folderName(3)), e.getMessage());
  }

  @Test
  void aRunFolderTakesThePlaceOfRunDirAndItsListenerHearsEveryCheckpointAfterPruning() {
    // run.dir is a URI that java.nio cannot write: every file must go to the given folder.
    PretrainConfig config = TestConfigs.tiny(tmp.resolve("unused"),
        Map.of("run.dir", "hdfs://nn/runs/a", "train.keep_checkpoints", "1"));
    Path staging = tmp.resolve("staging");
    List<String> heard = new ArrayList<>();
    RunFolder folder = new RunFolder(staging, checkpoint -> heard.add(checkpoint.step() + " "
        + staging.relativize(checkpoint.dir()) + " " + new CheckpointStore(staging).complete()
        .size()));
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2)) {
      int window = config.train().windowTokens();
      new TrainingLoop(config, backend, new LeastSquaresModel(backend, config.train().seed()),
          new SyntheticWindows(config.train().batchSize(), window, 50),
          new SyntheticWindows(config.train().batchSize(), window, 50), -1, new LocalExchange(),
          console, folder).run(7);
    }
    assertEquals(List.of("3 checkpoints/step-00000003 1", "6 checkpoints/step-00000006 1",
        "7 checkpoints/step-00000007 1"), heard);
    assertTrue(Files.isRegularFile(staging.resolve(TrainingLoop.METRICS_FILE)));
    assertTrue(Files.isRegularFile(staging.resolve(TrainingLoop.CONFIG_FILE)));
    assertFalse(Files.exists(tmp.resolve("unused")));
  }

  @Test
  void aRunThatReadsItsDataManyTimesSaysSoAndItsLinesCountThePasses() {
    String once = repeatsRun("once", 12);
    assertFalse(once.contains("read the training data"), once);
    assertTrue(once.contains(" | pass 0.2\n") && once.contains(" | pass 1.0\n"), once);

    String sixTimes = repeatsRun("six times", 2);
    assertTrue(sixTimes.contains("steps up to 12 read the training data 6.0 times ("), sixTimes);
    assertTrue(sixTimes.contains(" | pass 1.0\n") && sixTimes.contains(" | pass 6.0\n"), sixTimes);
  }

  /** The console of a 12-step run over data of {@code stepsPerPass} steps' windows. */
  private String repeatsRun(String name, int stepsPerPass) {
    consoleBytes.reset();
    PretrainConfig config = TestConfigs.tiny(tmp.resolve(name), Map.of());
    int batch = config.train().batchSize();
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2)) {
      int window = config.train().windowTokens();
      new TrainingLoop(config, backend, new LeastSquaresModel(backend, config.train().seed()),
          new SyntheticWindows(batch, window, 50).withPassOf((long) stepsPerPass * batch),
          new SyntheticWindows(batch, window, 50), -1, new LocalExchange(), console).run(12);
    }
    return consoleBytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aDivergedStepKeepsTheLastGoodCheckpointAndTheRunResumesFromIt() throws Exception {
    Path straight = tmp.resolve("straight");
    segment(straight, Map.of(), 12, -1);

    Path run = tmp.resolve("diverged");
    // The 8th forwardBackward (step 8) yields a NaN gradient: checkpoints 3 and 6 exist by then.
    TrainingDivergedException e = assertThrows(TrainingDivergedException.class,
        () -> segment(run, Map.of(), 12, -1, 7));
    assertEquals(8, e.step());
    assertTrue(e.getMessage().contains("the gradient of parameter 'b.bias'"), e.getMessage());
    List<Integer> steps = new ArrayList<>();
    new CheckpointStore(run).complete().forEach(c -> steps.add(c.step()));
    assertEquals(6, steps.get(steps.size() - 1), "no checkpoint of the diverged state: " + steps);

    TrainSummary resumed = segment(run, Map.of(), 12, -1);
    assertEquals(6, resumed.stepsThisRun(), "resumed from the step-6 checkpoint");
    assertEquals(metricsWithoutTimes(straight), metricsWithoutTimes(run));
  }

  private TrainSummary segment(Path runDir, Map<String, String> extra, int stopStep,
      int failOnCall) {
    return segment(runDir, extra, stopStep, failOnCall, -1);
  }

  /**
   * Trains {@code runDir} up to {@code stopStep}; the window source throws on its call
   * {@code failOnCall} (a crash) and the model's gradient turns NaN on its call {@code nanOnCall}
   * (a divergence); -1 for neither.
   */
  private TrainSummary segment(Path runDir, Map<String, String> extra, int stopStep,
      int failOnCall, int nanOnCall) {
    PretrainConfig config = TestConfigs.tiny(runDir, extra);
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2)) {
      int window = config.train().windowTokens();
      SyntheticWindows trainWindows = new SyntheticWindows(config.train().batchSize(), window, 50);
      if (failOnCall >= 0) {
        trainWindows.failOnCall(failOnCall);
      }
      SyntheticWindows valWindows = new SyntheticWindows(config.train().batchSize(), window, 50);
      LeastSquaresModel model = new LeastSquaresModel(backend, config.train().seed());
      if (nanOnCall >= 0) {
        model.poisonGradientOfCall(nanOnCall);
      }
      return new TrainingLoop(config, backend, model, trainWindows, valWindows, -1,
          new LocalExchange(), console).run(stopStep);
    }
  }

  /** The per-step metrics lines (no evaluations) without their wall-clock fields. */
  private static List<String> trainLines(Path runDir) throws Exception {
    return metricsWithoutTimes(runDir).stream().filter(line -> line.contains("\"loss\"")).toList();
  }

  /** The metrics lines without the wall-clock fields, which legitimately differ between runs. */
  private static List<String> metricsWithoutTimes(Path runDir) throws Exception {
    List<String> lines = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve(TrainingLoop.METRICS_FILE))) {
      ObjectNode node = (ObjectNode) JSON.readTree(line);
      node.remove(List.of("tokens_per_s", "elapsed_s"));
      lines.add(node.toString());
    }
    return lines;
  }
}
