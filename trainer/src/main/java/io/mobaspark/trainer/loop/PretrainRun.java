package io.mobaspark.trainer.loop;

import io.mobaspark.data.Dataset;
import io.mobaspark.data.WindowSampler;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Backends;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.config.TrainSettings;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The entry point of a pretraining run, called by the Spark job inside its training task (or
 * directly, single-process): opens the datasets, builds the model, and runs the {@link
 * TrainingLoop} in the run folder, resuming from its latest checkpoint.
 */
public final class PretrainRun {
  private PretrainRun() {}

  /** Trains to {@code train.max_steps} on a backend chosen by {@code run.backend}. */
  public static TrainSummary run(PretrainConfig config, PrintStream console) {
    try (Backend backend = Backends.create(config.run().backend(), config.run().threads(),
        config.model().cudaProblem())) {
      return run(config, backend, console);
    }
  }

  /** Trains to {@code train.max_steps} on {@code backend} (which the caller closes). */
  public static TrainSummary run(PretrainConfig config, Backend backend, PrintStream console) {
    return run(config, backend, console, config.train().maxSteps());
  }

  /**
   * Trains up to {@code stopStep} (at most {@code train.max_steps}) and checkpoints there; a later
   * call with the same run folder continues exactly where this one stopped.
   *
   * @throws IllegalArgumentException when a dataset is not configured or does not fit the model
   * @throws TrainingDivergedException when a loss or gradient becomes non-finite
   */
  public static TrainSummary run(PretrainConfig config, Backend backend, PrintStream console,
      int stopStep) {
    return run(config, backend, console, stopStep, new LocalExchange());
  }

  /**
   * One rank of a data-parallel run: as {@link #run(PretrainConfig, Backend, PrintStream, int)},
   * training on this rank's share of the training shards ({@link WindowSampler}: shard {@code i}
   * goes to rank {@code i mod ranks}) and averaging gradients through {@code exchange}, which the
   * caller opened for this rank and closes. Only rank 0 writes the run folder.
   *
   * @throws io.mobaspark.trainer.exchange.ExchangeException when a peer fails or cannot be reached
   */
  public static TrainSummary run(PretrainConfig config, Backend backend, PrintStream console,
      int stopStep, GradientExchange exchange) {
    if (config == null) {
      throw new IllegalArgumentException("config must be given");
    }
    return run(config, backend, console, stopStep, exchange, RunFolder.of(config.run()));
  }

  /**
   * As {@link #run(PretrainConfig, Backend, PrintStream, int, GradientExchange)}, reading and
   * writing the run's files in {@code folder} instead of {@code run.dir}: the Spark job's local
   * staging copy of a {@code run.dir} on a Hadoop FileSystem.
   */
  public static TrainSummary run(PretrainConfig config, Backend backend, PrintStream console,
      int stopStep, GradientExchange exchange, RunFolder folder) {
    if (config == null || backend == null || console == null || exchange == null
        || folder == null) {
      throw new IllegalArgumentException(
          "config, backend, console, exchange and folder must be given");
    }
    TrainSettings train = config.train();
    ModelConfig modelConfig = config.model();
    try (Dataset trainData = open("data.train", config.data().train(), true);
        Dataset valData = open("data.val", config.data().val(), true);
        Model model = new Model(backend, modelConfig, train.seed(), train.activationCheckpointing())) {
      requireCompatible(trainData, valData, config);
      WindowSource trainWindows = new SamplerWindows(new WindowSampler(trainData,
          train.windowTokens(), train.batchSize(), train.seed(), exchange.rank(),
          exchange.worldSize()));
      // Rank 0 alone evaluates, on all of data.val: the val loss does not depend on the world size.
      WindowSource valWindows = new SamplerWindows(new WindowSampler(valData,
          train.windowTokens(), train.batchSize(), train.seed(), 0, 1));
      int separator = train.docMasking() ? trainData.eotId() : -1;
      return new TrainingLoop(config, backend, model, trainWindows, valWindows, separator,
          exchange, console, folder).run(stopStep);
    }
  }

  /**
   * Opens both datasets and checks them against the model, as a run would, without training: a
   * Spark driver calls it before it hands the run to a task, so that a missing or damaged shard is
   * reported as such rather than as a failed task. Checksums are left to the run, which verifies
   * them anyway: this check reads manifests and shard headers only.
   */
  public static void checkDatasets(PretrainConfig config) {
    try (Dataset trainData = open("data.train", config.data().train(), false);
        Dataset valData = open("data.val", config.data().val(), false)) {
      requireCompatible(trainData, valData, config);
    }
  }

  private static void requireCompatible(Dataset trainData, Dataset valData, PretrainConfig config) {
    ModelConfig model = config.model();
    int ranks = config.run().ranks();
    if (trainData.shardCount() < ranks) {
      throw new IllegalArgumentException("run.ranks = " + ranks + " but data.train = "
          + trainData.directory() + " has " + trainData.shardCount() + " shards: every rank "
          + "trains on shards of its own; preprocess with a smaller --shard-tokens, or use fewer "
          + "ranks");
    }
    requireFits("data.train", trainData, model);
    requireFits("data.val", valData, model);
    if (valData.eotId() != trainData.eotId()
        || !valData.tokenizerName().equals(trainData.tokenizerName())) {
      throw new IllegalArgumentException("data.val (" + valData.directory() + ", tokenizer "
          + valData.tokenizerName() + ") was not tokenized like data.train ("
          + trainData.directory() + ", tokenizer " + trainData.tokenizerName() + ")");
    }
  }

  private static Dataset open(String key, String dir, boolean verifyChecksums) {
    if (dir.isBlank()) {
      throw new IllegalArgumentException(key + " is not set: give the dataset folder written by the "
          + "preprocess job (manifest.json + shards)");
    }
    try {
      return Dataset.open(Path.of(dir), verifyChecksums);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open dataset " + key + " = " + dir + ": " + e, e);
    }
  }

  private static void requireFits(String key, Dataset data, ModelConfig model) {
    if (data.vocabSize() > model.vocabSize()) {
      throw new IllegalArgumentException(key + " = " + data.directory() + " has vocab_size "
          + data.vocabSize() + " (tokenizer " + data.tokenizerName() + ") but model.vocab_size is "
          + model.vocabSize());
    }
  }
}
