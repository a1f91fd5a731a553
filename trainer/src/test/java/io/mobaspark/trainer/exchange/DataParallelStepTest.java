package io.mobaspark.trainer.exchange;

import static io.mobaspark.trainer.exchange.AuthenticationTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.loop.TokenBatch;
import io.mobaspark.trainer.loop.TrainStep;
import io.mobaspark.trainer.loop.TrainingDivergedException;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import io.mobaspark.trainer.testing.LeastSquaresModel;
import io.mobaspark.trainer.testing.SyntheticWindows;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The point of the exchange: 2 ranks, each training on half of every global batch, end where one
 * rank training on the whole batch (as 2 accumulated micro-batches) ends.
 */
class DataParallelStepTest {
  private static final int STEPS = 3;
  private static final int SEQ_LEN = 8;
  private static final int VOCAB = 11;
  private static final long SEED = 5;
  private static final LrSchedule SCHEDULE = new LrSchedule(0.01, 0.001, 1, 10);

  /** Every feature of the model (swa, moba, dense layers; GQA; kconv), tiny. */
  private static final ModelConfig CONFIG = ModelConfig.fromConfig(ConfigFactory.parseString(
      "vocab_size = 11, d_model = 12, layers = 3, heads = 4, kv_heads = 2, head_dim = 4, "
          + "ffn = 20, attention = \"swa,moba,dense\", window = 3, block_size = 2, topk = 2, "
          + "kconv = 3, rope = \"dense,swa\", tie_embeddings = false"));

  /** What a rank ends with: its per-step losses and its weights. */
  private record Outcome(double[] losses, List<double[]> weights) {}

  @ParameterizedTest
  @EnumSource(names = {"DRIVER", "RING", "SHARED"})
  void twoRanksOnHalfBatchesEndWhereOneRankOnTheWholeBatchEnds(ExchangeSpec.Kind kind)
      throws Exception {
    List<List<TokenBatch>> global = globalBatches();
    Outcome single = train(new LocalExchange(), global);

    ExchangeSpec spec = LoopbackRanks.spec(kind, 2, 256, WireDType.FP32, 20_000);
    List<Outcome> ranks = LoopbackRanks.run(spec, exchange -> {
      List<List<TokenBatch>> half = new ArrayList<>();
      for (List<TokenBatch> step : global) {
        half.add(List.of(step.get(exchange.rank())));
      }
      return train(exchange, half);
    });

    for (int r = 0; r < 2; r++) {
      Outcome rank = ranks.get(r);
      assertArrayEquals(single.losses(), rank.losses(), 1e-6, "rank " + r + " losses");
      for (int p = 0; p < single.weights().size(); p++) {
        assertArrayEquals(single.weights().get(p), rank.weights().get(p), 2e-5,
            "rank " + r + ", parameter " + p);
        assertArrayEquals(ranks.get(0).weights().get(p), rank.weights().get(p), 0,
            "the ranks agree bit for bit on parameter " + p);
      }
    }
  }

  @ParameterizedTest
  @EnumSource(names = {"DRIVER", "RING", "SHARED"})
  void aNonFiniteLossOnOneRankMakesEveryRankRefuseTheStep(ExchangeSpec.Kind kind)
      throws Exception {
    ExchangeSpec spec = LoopbackRanks.spec(kind, 2, 256, WireDType.FP32, 20_000);
    List<String> errors = LoopbackRanks.run(spec, exchange -> {
      try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1)) {
        LeastSquaresModel model = new LeastSquaresModel(backend, 7);
        try (AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0);
            TrainStep step = new TrainStep(backend,
                exchange.rank() == 1 ? diverging(model) : model, adamw, SCHEDULE, 1.0, exchange)) {
          return assertThrows(TrainingDivergedException.class,
              () -> step.run(1, List.of(globalBatches().get(0).get(0)))).getMessage();
        }
      }
    });
    assertContains(errors.get(0), "step 1", "the loss averaged over 2 ranks (NaN)");
    assertContains(errors.get(1), "step 1", "the loss of micro-batch 1/1 (NaN; first non-finite"
        + " activation: the linear layer's output)");
  }

  @ParameterizedTest
  @EnumSource(names = {"DRIVER", "RING", "SHARED"})
  void aRankThatStopsEarlyStillSendsEveryGradientGroup(ExchangeSpec.Kind kind) throws Exception {
    // Rank 1's first micro-batch goes bad, so it skips its second and sends every group at the end;
    // rank 0 sends them one by one during its second backward. Same calls: both refuse the step.
    ExchangeSpec spec = LoopbackRanks.spec(kind, 2, 256, WireDType.FP32, 20_000);
    List<String> errors = LoopbackRanks.run(spec, exchange -> {
      try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1);
          Model model = new Model(backend, CONFIG, SEED);
          AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1);
          TrainStep step = new TrainStep(backend, exchange.rank() == 1 ? diverging(model) : model,
              adamw, SCHEDULE, 0.5, exchange)) {
        return assertThrows(TrainingDivergedException.class,
            () -> step.run(1, globalBatches().get(0))).getMessage();
      }
    });
    assertContains(errors.get(0), "step 1", "the loss averaged over 2 ranks (NaN)");
    assertContains(errors.get(1), "step 1", "the loss of micro-batch 1/2 (NaN");
  }

  private static Outcome train(GradientExchange exchange, List<List<TokenBatch>> steps) {
    try (CpuBackend backend = new CpuBackend(Precision.FLOAT64, 1);
        Model model = new Model(backend, CONFIG, SEED);
        AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1);
        TrainStep trainStep = new TrainStep(backend, model, adamw, SCHEDULE, 0.5, exchange)) {
      double[] losses = new double[steps.size()];
      for (int s = 0; s < steps.size(); s++) {
        losses[s] = trainStep.run(s + 1, steps.get(s)).loss();
      }
      List<double[]> weights = new ArrayList<>();
      for (Parameter p : model.parameters()) {
        weights.add(backend.read(p.value()));
      }
      return new Outcome(losses, weights);
    }
  }

  /** Per step, the 2 micro-batches of 2 windows that make up the global batch of 4 windows. */
  private static List<List<TokenBatch>> globalBatches() {
    SyntheticWindows windows = new SyntheticWindows(2, SEQ_LEN + 1, VOCAB);
    List<List<TokenBatch>> steps = new ArrayList<>();
    for (int s = 0; s < STEPS; s++) {
      steps.add(List.of(TokenBatch.fromWindows(windows.next(), 2, SEQ_LEN, -1),
          TokenBatch.fromWindows(windows.next(), 2, SEQ_LEN, -1)));
    }
    return steps;
  }

  /** The model, reporting a NaN loss (after its backward, whose groups it reports at the end). */
  private static io.mobaspark.trainer.TrainableModel diverging(
      io.mobaspark.trainer.TrainableModel inner) {
    return new io.mobaspark.trainer.ForwardingModel(inner) {
      @Override
      public double forwardBackward(int[] inputs, int[] targets,
          io.mobaspark.kernels.SeqLayout layout, double gradScale) {
        super.forwardBackward(inputs, targets, layout, gradScale);
        return Double.NaN;
      }

      @Override
      public double forwardBackward(int[] inputs, int[] targets,
          io.mobaspark.kernels.SeqLayout layout, double gradScale,
          java.util.function.IntConsumer groupDone) {
        super.forwardBackward(inputs, targets, layout, gradScale, groupDone);
        return Double.NaN;
      }
    };
  }
}
