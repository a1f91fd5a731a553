package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.LoopbackRanks;
import io.mobaspark.trainer.exchange.WireDType;
import io.mobaspark.trainer.testing.MetricsCurves;
import io.mobaspark.trainer.testing.SingleRankEquivalent;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Two ranks of {@link PretrainRun} in one JVM (threads, loopback exchange) against the single-rank
 * run on the same global batch, on real byte-tokenized shards and the float64 CPU backend, so that
 * the only difference left is the exchange's fp32 rounding.
 */
class DataParallelRunTest {
  private static final int STEPS = 8;

  @TempDir static Path data;
  @TempDir Path tmp;

  @BeforeAll
  static void packDatasets() throws Exception {
    CorpusPacker.pack(PretrainRunTest.documents(120, 1).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), data.resolve("train"), 2048);
    CorpusPacker.pack(PretrainRunTest.documents(20, 2).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), data.resolve("val"), 2048);
  }

  @ParameterizedTest
  @EnumSource(names = {"DRIVER", "RING", "SHARED"})
  void twoRanksMatchOneRankOnTheSameGlobalBatchAcrossAResume(ExchangeSpec.Kind kind)
      throws Exception {
    Map<String, String> overrides = overrides(tmp.resolve("two"), 2);
    Path single = tmp.resolve("one");
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1)) {
      SingleRankEquivalent.run(overrides, backend, single, quiet());
    }

    ExchangeSpec spec = LoopbackRanks.spec(kind, 2, 1024, WireDType.FP32, 20_000);
    PretrainConfig config = PretrainConfig.load(null, overrides);
    List<String> consoles = new ArrayList<>();
    for (int stop : new int[] {STEPS / 2, STEPS}) {
      consoles.addAll(LoopbackRanks.run(spec, exchange -> {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1)) {
          PretrainRun.run(config, backend, new PrintStream(out, true, StandardCharsets.UTF_8),
              stop, exchange);
        }
        return out.toString(StandardCharsets.UTF_8);
      }));
    }

    List<JsonNode> actual = MetricsCurves.read(tmp.resolve("two"));
    MetricsCurves.assertSameCurve(MetricsCurves.read(single), actual, 1e-6);
    assertEquals(2L * 4 * 32 * STEPS, actual.get(actual.size() - 1).get("tokens").asLong());
    for (JsonNode line : actual) {
      assertTrue(!line.has("loss") || line.get("exchange_wait_ms").asDouble(-1) >= 0,
          "a step of two ranks records its exchange wait: " + line);
    }
    // Rank 0 prints progress and resumes; rank 1 only says what it does.
    String rank1Resumed = consoles.get(3);
    assertTrue(consoles.get(2).contains("step 8/8 | loss"), consoles.get(2));
    assertTrue(consoles.get(2).contains("| exchange wait "), consoles.get(2));
    assertTrue(rank1Resumed.contains("rank 1/2: resumed from")
        && rank1Resumed.contains("at step 4"), rank1Resumed);
    assertFalse(rank1Resumed.contains("| loss") || rank1Resumed.contains("val_loss")
        || rank1Resumed.contains("\ncheckpoint "), rank1Resumed);
  }

  @Test
  void aCheckpointOfAnotherWorldSizeIsRefused() throws Exception {
    Path run = tmp.resolve("world");
    ExchangeSpec spec = LoopbackRanks.spec(ExchangeSpec.Kind.DRIVER, 2, 1024, WireDType.FP32,
        20_000);
    PretrainConfig two = PretrainConfig.load(null, overrides(run, 2));
    LoopbackRanks.run(spec, exchange -> {
      try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 1)) {
        return PretrainRun.run(two, backend, quiet(), 2, exchange);
      }
    });
    PretrainConfig one = PretrainConfig.load(null, overrides(run, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
      try (CpuBackend backend = new CpuBackend(Precision.FLOAT32, 1)) {
        PretrainRun.run(one, backend, quiet(), STEPS);
      }
    });
    assertTrue(e.getMessage().contains("run.ranks = 1")
        && e.getMessage().contains("a run of 2 ranks")
        && e.getMessage().contains("step-00000002"), e.getMessage());
  }

  @Test
  void moreRanksThanTrainingShardsIsRefusedBeforeTraining() {
    PretrainConfig config = PretrainConfig.load(null, overrides(tmp.resolve("many"), 64));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PretrainRun.checkDatasets(config));
    assertTrue(e.getMessage().contains("run.ranks = 64") && e.getMessage().contains("shards"),
        e.getMessage());
  }

  /** {@link TestConfigs#hybridOnBytes} on {@code ranks} ranks, checkpointing every 2 steps. */
  private static Map<String, String> overrides(Path runDir, int ranks) {
    Map<String, String> o = TestConfigs.hybridOnBytes(data, runDir);
    o.put("train.checkpoint_every", "2");
    o.put("train.log_every", "4");
    o.put("run.ranks", Integer.toString(ranks));
    return o;
  }

  private static PrintStream quiet() {
    return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
  }
}
