package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.checkpoint.CheckpointFiles;
import io.mobaspark.trainer.checkpoint.CheckpointListener;
import io.mobaspark.trainer.checkpoint.CheckpointStore;
import io.mobaspark.trainer.checkpoint.TrainState;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.config.TrainSettings;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.metrics.MetricsLog;
import io.mobaspark.trainer.metrics.ProgressLine;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The training loop over any {@link TrainableModel} and window source (docs/training.md): resume
 * from the run folder's latest checkpoint, then per step take {@code grad_accum} micro-batches, run
 * a {@link TrainStep}, write a metrics line, and every {@code eval_every} / {@code checkpoint_every}
 * steps evaluate / checkpoint. {@link PretrainRun} wires it to the real model and datasets.
 *
 * <p>Everything that decides a step's numbers (weights, AdamW moments, step, data cursor) is in the
 * checkpoint, so a resumed run repeats the uninterrupted run's losses exactly.
 *
 * <p>Data parallel (docs/distributed.md): every rank runs this loop with its own window source and
 * the same {@link GradientExchange}. All ranks train and resume from the same checkpoint; rank 0
 * alone writes the run folder (config, metrics, checkpoints), evaluates and prints progress. Every
 * rank draws the same number of windows per step, so the one cursor a checkpoint records is every
 * rank's cursor.
 */
public final class TrainingLoop {
  /** {@code <run dir>/metrics.jsonl}. */
  public static final String METRICS_FILE = "metrics.jsonl";
  /** {@code <run dir>/config.json}: the resolved config of the latest segment. */
  public static final String CONFIG_FILE = "config.json";
  /**
   * Passes over the training data above which the loop warns at its start: up to about 4 the
   * repeated tokens train nearly as well as new ones (Muennighoff et al. 2023, "Scaling
   * Data-Constrained Language Models"); far beyond, the model memorizes them.
   */
  static final double MANY_PASSES = 4;

  private final PretrainConfig config;
  private final TrainSettings train;
  private final Backend backend;
  private final TrainableModel model;
  private final WindowSource trainWindows;
  private final Evaluator evaluator;
  private final int documentSeparator;
  private final GradientExchange exchange;
  private final boolean lead;
  private final PrintStream console;
  private final Path runDir;
  private final CheckpointListener checkpointListener;

  /** As below, in {@code run.dir}, which must be a local path. */
  public TrainingLoop(PretrainConfig config, Backend backend, TrainableModel model,
      WindowSource trainWindows, WindowSource valWindows, int documentSeparator,
      GradientExchange exchange, PrintStream console) {
    this(config, backend, model, trainWindows, valWindows, documentSeparator, exchange, console,
        config == null ? null : RunFolder.of(config.run()));
  }

  /**
   * @param trainWindows      this rank's training windows
   * @param valWindows        the validation windows (used on rank 0 only)
   * @param documentSeparator the end-of-text id when {@code train.doc_masking} is on, else -1
   * @param exchange          this rank's exchange ({@link LocalExchange} for one rank); its world
   *                          size must equal {@code run.ranks}. The caller closes it
   * @param folder            where this rank reads and (rank 0) writes the run's files
   */
  public TrainingLoop(PretrainConfig config, Backend backend, TrainableModel model,
      WindowSource trainWindows, WindowSource valWindows, int documentSeparator,
      GradientExchange exchange, PrintStream console, RunFolder folder) {
    if (config == null || backend == null || model == null || trainWindows == null
        || valWindows == null || exchange == null || console == null || folder == null) {
      throw new IllegalArgumentException(
          "config, backend, model, windows, exchange, console and folder must be given");
    }
    if (exchange.worldSize() != config.run().ranks()) {
      throw new IllegalArgumentException("run.ranks = " + config.run().ranks() + " but rank "
          + exchange.rank() + "'s exchange has a world of " + exchange.worldSize() + " ranks");
    }
    this.config = config;
    this.train = config.train();
    this.backend = backend;
    this.model = model;
    this.trainWindows = trainWindows;
    this.evaluator = new Evaluator(valWindows, train.evalBatches(), train.batchSize(),
        train.seqLen(), documentSeparator);
    this.documentSeparator = documentSeparator;
    this.exchange = exchange;
    this.lead = exchange.rank() == 0;
    this.console = console;
    this.runDir = folder.dir();
    this.checkpointListener = folder.listener();
  }

  /**
   * Trains from the latest checkpoint (or from scratch) up to step {@code stopStep} (capped at
   * {@code train.max_steps}) and checkpoints there, so that a later call continues the same run:
   * a Spark job can run a long training as several segments. With {@code train.max_minutes} the run
   * also ends at the first step whose total training time (over all segments) reaches that bound.
   */
  public TrainSummary run(int stopStep) {
    if (stopStep < 1) {
      throw new IllegalArgumentException("stop step must be >= 1, got " + stopStep);
    }
    int last = Math.min(stopStep, train.maxSteps());
    List<Parameter> parameters = model.parameters();
    long parameterCount = parameters.stream().mapToLong(p -> p.value().numel()).sum();
    // Target tokens of one optimizer step over all ranks: the global batch.
    long stepTokens = train.tokensPerStep() * exchange.worldSize();
    CheckpointStore store = new CheckpointStore(runDir);
    if (lead) {
      store.removeLeftoverTemps();
      writeConfig();
    }
    try (AdamW optimizer = AdamW.of(backend, parameters, train)) {
      Progress progress = resume(store, parameters, optimizer);
      int first = progress.step;
      console.printf("%straining %,d parameters on %s: steps %d..%d of %d, %,d tokens per step%s%n",
          rankPrefix(), parameterCount, backend.description(), first + 1, last, train.maxSteps(),
          stepTokens, exchange.worldSize() == 1 ? "" : " over " + exchange.worldSize() + " ranks");
      warnOfRepeats(first, last);
      // Only rank 0 writes metrics (try-with-resources skips a null resource).
      try (TrainStep trainStep = new TrainStep(backend, model, optimizer, LrSchedule.of(train),
              train.gradClip(), exchange);
          MetricsLog metrics = lead ? MetricsLog.open(runDir.resolve(METRICS_FILE), first) : null) {
        long start = System.nanoTime();
        long lineStart = start;
        int lineFirstStep = first;
        double budgetSeconds = train.maxMinutes() * 60;
        boolean outOfTime = budgetSeconds > 0 && progress.elapsedBefore >= budgetSeconds;
        if (outOfTime && lead) {
          console.printf("train.max_minutes = %s already spent at step %d (%.1f s trained)%n",
              train.maxMinutes(), progress.step, progress.elapsedBefore);
        }
        while (progress.step < last && !outOfTime) {
          int step = progress.step + 1;
          long stepStart = System.nanoTime();
          TrainStep.Result result = trainStep.run(step, nextMicroBatches());
          long now = System.nanoTime();
          progress.step = step;
          progress.tokens += stepTokens;
          progress.trainLoss = result.loss();
          if (!lead) {
            continue;
          }
          double elapsed = progress.elapsedBefore + (now - start) / 1e9;
          outOfTime = budgetSeconds > 0 && elapsed >= budgetSeconds;
          boolean segmentEnd = step == last || outOfTime;
          metrics.step(step, result.loss(), result.lr(), result.gradNorm(), progress.tokens,
              stepTokens / ((now - stepStart) / 1e9), elapsed, result.exchangeWaitMillis());
          if (step % train.logEvery() == 0 || segmentEnd) {
            double lineSeconds = (now - lineStart) / 1e9;
            int lineSteps = step - lineFirstStep;
            String line = ProgressLine.format(step, train.maxSteps(), result.loss(), result.lr(),
                lineSteps * stepTokens / lineSeconds, elapsed, lineSeconds / lineSteps,
                budgetSeconds);
            console.println(ProgressLine.withExchangeWait(
                ProgressLine.withPasses(line, passes(trainWindows.cursor())),
                result.exchangeWaitMillis()));
            lineStart = now;
            lineFirstStep = step;
          }
          if (step % train.evalEvery() == 0 || step == train.maxSteps() || outOfTime) {
            progress.valLoss = evaluator.evaluate(model);
            metrics.eval(step, progress.valLoss, progress.tokens,
                progress.elapsedBefore + (System.nanoTime() - start) / 1e9);
            console.println(ProgressLine.eval(step, train.maxSteps(), progress.valLoss));
          }
          if (step % train.checkpointEvery() == 0 || segmentEnd) {
            double total = progress.elapsedBefore + (System.nanoTime() - start) / 1e9;
            checkpoint(store, parameters, optimizer, progress, total);
          }
        }
        double seconds = progress.elapsedBefore + (System.nanoTime() - start) / 1e9;
        return new TrainSummary(progress.step, progress.step - first, progress.trainLoss,
            progress.valLoss, progress.tokens, seconds, parameterCount);
      }
    }
  }

  /** The mutable counters of a run, restored from a checkpoint's state. */
  private static final class Progress {
    int step;
    long tokens;
    double elapsedBefore;
    double trainLoss = Double.NaN;
    double valLoss = Double.NaN;
  }

  private Progress resume(CheckpointStore store, List<Parameter> parameters, AdamW optimizer) {
    Progress progress = new Progress();
    Optional<CheckpointStore.Checkpoint> latest = store.latest();
    if (latest.isEmpty()) {
      return progress;
    }
    Path dir = latest.get().dir();
    TrainState state = CheckpointFiles.restore(dir, backend, parameters, optimizer.state(),
        config.modelSection());
    requireSameWorld(dir, state);
    trainWindows.seek(state.dataCursor());
    progress.step = state.step();
    progress.tokens = state.tokensSeen();
    progress.elapsedBefore = state.elapsedSeconds();
    progress.trainLoss = state.trainLoss();
    progress.valLoss = state.valLoss();
    console.println(rankPrefix() + "resumed from " + dir + " at step " + state.step());
    return progress;
  }

  /**
   * A checkpoint's data cursor counts windows of each rank's own shards, which are dealt by the
   * world size: under another world size it would point elsewhere and repeat or skip data, so it is
   * refused. (Checkpoints from before {@code run.ranks} existed are single-rank.)
   */
  private void requireSameWorld(Path dir, TrainState state) {
    int saved = state.ranks();
    if (saved != exchange.worldSize()) {
      throw new IllegalArgumentException("run.ranks = " + exchange.worldSize() + " but checkpoint "
          + dir + " was written by a run of " + saved + " ranks: each rank's data position does "
          + "not carry over to another world size; resume with run.ranks = " + saved
          + ", or start a new run.dir");
    }
  }

  /**
   * Says so when steps up to {@code last} would read the training data more than {@link
   * #MANY_PASSES} times: a falling training loss then comes from memorizing a small corpus (the
   * 125M model on the 5M-token demo corpus: best validation loss after 6.5 passes, rising after).
   */
  private void warnOfRepeats(int first, int last) {
    long windowsPerStep = (long) train.gradAccum() * train.batchSize();
    double planned = passes(trainWindows.cursor() + (last - first) * windowsPerStep);
    if (lead && planned > MANY_PASSES) {
      console.printf(Locale.ROOT, "steps up to %d read the training data %.1f times (%,d windows of "
          + "%,d tokens per pass%s): expect the validation loss to rise once the model has "
          + "memorized it; more data or fewer steps avoid that%n", last, planned,
          trainWindows.windowsPerPass(), train.windowTokens(),
          exchange.worldSize() == 1 ? "" : " on each rank");
    }
  }

  /** Passes over this rank's training data once its cursor is at {@code cursor}; NaN without end. */
  private double passes(long cursor) {
    long perPass = trainWindows.windowsPerPass();
    return perPass > 0 ? (double) cursor / perPass : Double.NaN;
  }

  /** Which rank speaks, on a multi-rank run's executor logs. */
  private String rankPrefix() {
    return exchange.worldSize() == 1 ? "" : "rank " + exchange.rank() + "/"
        + exchange.worldSize() + ": ";
  }

  private List<TokenBatch> nextMicroBatches() {
    List<TokenBatch> batches = new ArrayList<>(train.gradAccum());
    for (int i = 0; i < train.gradAccum(); i++) {
      batches.add(TokenBatch.fromWindows(trainWindows.next(), train.batchSize(), train.seqLen(),
          documentSeparator));
    }
    return batches;
  }

  private void checkpoint(CheckpointStore store, List<Parameter> parameters, AdamW optimizer,
      Progress progress, double elapsedSeconds) {
    TrainState state = new TrainState(progress.step, trainWindows.cursor(), progress.tokens,
        train.seed(), elapsedSeconds, progress.trainLoss, progress.valLoss,
        Instant.now().toString(), config.toJson());
    CheckpointStore.Checkpoint saved = store.publish(progress.step,
        folder -> CheckpointFiles.write(folder, backend, parameters, optimizer.state(), state));
    store.prune(train.keepCheckpoints());
    console.println("checkpoint " + saved.dir());
    checkpointListener.saved(saved);
  }

  private void writeConfig() {
    try {
      Files.createDirectories(runDir);
      Files.writeString(runDir.resolve(CONFIG_FILE), config.toJson() + "\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + runDir.resolve(CONFIG_FILE), e);
    }
  }
}
