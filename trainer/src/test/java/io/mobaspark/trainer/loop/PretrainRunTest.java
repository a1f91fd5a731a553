package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.Dataset;
import io.mobaspark.data.WindowSampler;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real model on real (packed, byte-tokenized) shards, end to end on the CPU backend. */
class PretrainRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path data;
  @TempDir Path tmp;
  private final PrintStream console =
      new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

  @BeforeAll
  static void packDatasets() throws Exception {
    CorpusPacker.pack(documents(60, 1).iterator(), Tokenizers.byName(Tokenizers.BYTES),
        data.resolve("train"), 2048);
    CorpusPacker.pack(documents(20, 2).iterator(), Tokenizers.byName(Tokenizers.BYTES),
        data.resolve("val"), 2048);
  }

  @Test
  void trainsAndResumesBitForBitOnTheCpuBackend() throws Exception {
    Path straight = tmp.resolve("straight");
    TrainSummary full = run(config(straight, Map.of()), 8);
    Path resumed = tmp.resolve("resumed");
    assertEquals(4, run(config(resumed, Map.of()), 4).step());
    TrainSummary last = run(config(resumed, Map.of()), 8);

    assertEquals(4, last.stepsThisRun());
    assertEquals(losses(straight), losses(resumed));
    assertEquals(full.valLoss(), last.valLoss());
    double uniform = Math.log(257);
    assertTrue(full.valLoss() < uniform - 1, "learns something: val loss " + full.valLoss()
        + " vs " + uniform + " for a uniform guess");
    assertEquals(config(straight, Map.of()).model().parameterCount(), full.parameters());
  }

  @Test
  void twoHalfMicroBatchesGiveTheGradientOfOneFullBatch() throws Exception {
    PretrainConfig config = config(tmp, Map.of("train.grad_clip", "0"));
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 2);
        Dataset train = Dataset.open(data.resolve("train"));
        Model full = new Model(backend, config.model(), 5);
        Model halves = new Model(backend, config.model(), 5)) {
      int seqLen = config.train().seqLen();
      WindowSampler four = new WindowSampler(train, seqLen + 1, 4, 3, 0, 1);
      WindowSampler two = new WindowSampler(train, seqLen + 1, 2, 3, 0, 1);
      int eot = train.eotId();
      gradientStep(backend, full, List.of(TokenBatch.fromWindows(four.next(), 4, seqLen, eot)));
      gradientStep(backend, halves, List.of(TokenBatch.fromWindows(two.next(), 2, seqLen, eot),
          TokenBatch.fromWindows(two.next(), 2, seqLen, eot)));
      for (int i = 0; i < full.parameters().size(); i++) {
        Parameter a = full.parameters().get(i);
        double[] expected = backend.read(a.grad());
        double scale = Math.sqrt(backend.sumOfSquares(a.grad()) / expected.length) + 1e-30;
        double[] actual = backend.read(halves.parameters().get(i).grad());
        assertArrayEquals(expected, actual, 1e-10 * scale, a.name());
      }
    }
  }

  @Test
  void refusesMissingDataAndAVocabularyLargerThanTheModel() {
    IllegalArgumentException unset = assertThrows(IllegalArgumentException.class,
        () -> run(config(tmp, Map.of("data.val", "")), 2));
    assertTrue(unset.getMessage().contains("data.val"), unset.getMessage());
    IllegalArgumentException vocab = assertThrows(IllegalArgumentException.class,
        () -> run(config(tmp, Map.of("model.vocab_size", "256")), 2));
    assertTrue(vocab.getMessage().contains("data.train") && vocab.getMessage().contains("257"),
        vocab.getMessage());
  }

  private TrainSummary run(PretrainConfig config, int stopStep) {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 2)) {
      return PretrainRun.run(config, backend, console, stopStep);
    }
  }

  private static void gradientStep(CpuBackend backend, Model model, List<TokenBatch> batches) {
    try (AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      new TrainStep(backend, model, adamw, new LrSchedule(1e-3, 0, 0, 1), 0).run(1, batches);
    }
  }

  /** A tiny hybrid model (sliding window + MoBA with kconv) on byte tokens, 8 steps. */
  private static PretrainConfig config(Path runDir, Map<String, String> extra) {
    Map<String, String> o = TestConfigs.hybridOnBytes(data, runDir);
    o.putAll(extra);
    return PretrainConfig.load(null, o);
  }

  private static List<Double> losses(Path runDir) throws Exception {
    List<Double> losses = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve(TrainingLoop.METRICS_FILE))) {
      JsonNode node = JSON.readTree(line);
      losses.add(node.has("loss") ? node.get("loss").asDouble() : node.get("val_loss").asDouble());
    }
    return losses;
  }

  /** Short repetitive sentences: byte-level structure a tiny model learns in a few steps. */
  static List<String> documents(int count, long seed) {
    String[] subjects = {"the cat", "a dog", "my friend", "the old man", "a small bird"};
    String[] verbs = {"sat on", "looked at", "walked to", "found", "sang about"};
    String[] objects = {"the mat", "a tree", "the river", "the moon", "a red house"};
    Random random = new Random(seed);
    List<String> docs = new ArrayList<>();
    for (int d = 0; d < count; d++) {
      StringBuilder text = new StringBuilder();
      for (int s = 0; s < 3; s++) {
        text.append(subjects[random.nextInt(5)]).append(' ').append(verbs[random.nextInt(5)])
            .append(' ').append(objects[random.nextInt(5)]).append(". ");
      }
      docs.add(text.toString());
    }
    return docs;
  }
}
