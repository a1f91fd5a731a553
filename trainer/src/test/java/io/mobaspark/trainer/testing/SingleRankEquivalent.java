package io.mobaspark.trainer.testing;

import io.mobaspark.data.Dataset;
import io.mobaspark.data.WindowSampler;
import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.config.TrainSettings;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.loop.SamplerWindows;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import io.mobaspark.trainer.loop.WindowSource;
import io.mobaspark.trainer.model.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The single-process run that a data-parallel run of {@code R} ranks must reproduce: one rank with
 * {@code grad_accum} times {@code R} micro-batches per step, taken in turn from the samplers that
 * the {@code R} ranks would use. Its global batch is theirs, so its losses and weights equal theirs
 * within the rounding of the exchange.
 */
public final class SingleRankEquivalent {
  private SingleRankEquivalent() {}

  /**
   * Trains the equivalent of the distributed run configured by {@code overrides} (which set
   * {@code run.ranks}) in {@code runDir}, to {@code train.max_steps}.
   */
  public static TrainSummary run(Map<String, String> overrides, Backend backend, Path runDir,
      PrintStream console) {
    PretrainConfig distributed = PretrainConfig.load(null, overrides);
    int ranks = distributed.run().ranks();
    TrainSettings train = distributed.train();
    Map<String, String> single = new HashMap<>(overrides);
    single.put("run.ranks", "1");
    single.put("train.grad_accum", Integer.toString(train.gradAccum() * ranks));
    single.put("run.dir", runDir.toString());
    PretrainConfig config = PretrainConfig.load(null, single);
    try (Dataset trainData = Dataset.open(Path.of(config.data().train()));
        Dataset valData = Dataset.open(Path.of(config.data().val()));
        Model model = new Model(backend, config.model(), train.seed())) {
      WindowSampler[] perRank = new WindowSampler[ranks];
      for (int r = 0; r < ranks; r++) {
        perRank[r] = new WindowSampler(trainData, train.windowTokens(), train.batchSize(),
            train.seed(), r, ranks);
      }
      WindowSampler val = new WindowSampler(valData, train.windowTokens(), train.batchSize(),
          train.seed(), 0, 1);
      int separator = train.docMasking() ? trainData.eotId() : -1;
      return new TrainingLoop(config, backend, model, new RoundRobin(perRank),
          new SamplerWindows(val), separator, new LocalExchange(), console).run(train.maxSteps());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the datasets of " + runDir, e);
    }
  }

  /** Micro-batches from each rank's sampler in turn; every sampler's cursor is the cursor. */
  private static final class RoundRobin implements WindowSource {
    private final WindowSampler[] samplers;
    private int turn;

    RoundRobin(WindowSampler[] samplers) {
      this.samplers = samplers;
    }

    @Override
    public int[] next() {
      int[] batch = samplers[turn].next();
      turn = (turn + 1) % samplers.length;
      return batch;
    }

    @Override
    public long cursor() {
      if (turn != 0) {
        throw new IllegalStateException("cursor asked for in the middle of a round");
      }
      return samplers[0].cursor();
    }

    @Override
    public void seek(long cursor) {
      for (WindowSampler s : samplers) {
        s.seek(cursor);
      }
      turn = 0;
    }
  }
}
