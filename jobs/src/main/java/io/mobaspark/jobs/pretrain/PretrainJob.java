package io.mobaspark.jobs.pretrain;

import io.mobaspark.trainer.checkpoint.CheckpointStore;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.PretrainRun;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.loop.TrainingLoop;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * A pretraining run as one Spark barrier stage of {@code run.ranks} tasks (docs/distributed.md):
 * the driver checks the datasets, hosts the gradient exchange and prints progress; each task trains
 * one rank. The config travels to the tasks as a validated value and the datasets are opened on the
 * driver first, so a bad key or a damaged shard fails before any task starts, with its own message.
 *
 * <p>When a task or its executor dies, Spark fails the stage and runs all its tasks again, up to
 * {@code spark.stage.maxConsecutiveAttempts} times; every rank then resumes from the latest
 * complete checkpoint. Failures that a retry would repeat stop the job at once
 * ({@link FatalTaskFailures}).
 *
 * <p>A {@code run.dir} on a Hadoop FileSystem is checked here first (a FileSystem for its scheme,
 * reachable, writable); the tasks get the driver's Hadoop configuration in a broadcast, so that the
 * executors reach it with the same settings ({@code spark.hadoop.*}, core-site.xml).
 */
public final class PretrainJob {
  private PretrainJob() {}

  public static TrainSummary run(JavaSparkContext jsc, PretrainConfig config, PrintStream console) {
    PretrainRun.checkDatasets(config);
    int ranks = config.run().ranks();
    SparkConf conf = jsc.getConf();
    if (inThisJvm(conf) && jsc.defaultParallelism() < ranks) {
      // A barrier stage needs all its tasks at once; Spark would retry for minutes before failing.
      throw new IllegalArgumentException("run.ranks = " + ranks + " needs " + ranks + " task slots "
          + "at once, but master " + conf.get("spark.master") + " has " + jsc.defaultParallelism()
          + ": use --master local[" + ranks + "] or fewer ranks");
    }
    RemoteRunDir remote = config.run().remoteDir() ? checkedRemote(config, jsc) : null;
    Broadcast<SerializableConfiguration> hadoopConf = remote == null ? null
        : jsc.broadcast(new SerializableConfiguration(jsc.hadoopConfiguration()));
    String group = "mobaspark-pretrain-" + UUID.randomUUID();
    // Interrupt on cancel: the tasks of a failed attempt stop at once instead of running on beside
    // the next attempt's.
    jsc.setJobGroup(group, String.format(Locale.ROOT,
        "pretrain %s: %d ranks x %d steps of %d x %d tokens, %s exchange", config.run().dir(),
        ranks, config.train().maxSteps(), config.train().batchSize(), config.train().seqLen(),
        config.exchange().kind().name().toLowerCase(Locale.ROOT)), true);
    try (ExchangeHost exchange = ExchangeHost.start(config, conf.get("spark.driver.host",
            "localhost"));
        FatalTaskFailures fatal = FatalTaskFailures.watch(jsc.sc(), group);
        DriverProgress progress = inThisJvm(conf) ? null : startProgress(config, remote,
            console)) {
      try {
        List<TrainSummary> summaries = BarrierStage.run(jsc, ranks,
            new RankTraining(config, exchange.spec(), threadsPerRank(config, jsc), hadoopConf));
        return summaries.get(0);
      } catch (Exception e) {
        // Spark's own SparkException is checked, though no Java signature declares it.
        throw fatal.failure().orElseGet(() -> explain(e, config, remote, conf, exchange));
      }
    } finally {
      jsc.clearJobGroup();
      if (hadoopConf != null) {
        hadoopConf.destroy();
      }
    }
  }

  /** {@code run.dir} on its Hadoop FileSystem, found, reached and written to once. */
  private static RemoteRunDir checkedRemote(PretrainConfig config, JavaSparkContext jsc) {
    RemoteRunDir remote = RemoteRunDir.open(config.run().dir(), jsc.hadoopConfiguration());
    remote.checkWritable();
    return remote;
  }

  /**
   * Local mode: the tasks run in this JVM, so rank 0 prints its progress here itself (elsewhere the
   * driver tails rank 0's metrics.jsonl, which it can read where {@code run.dir} is shared), and the
   * ranks share this JVM's {@code local[N]} cores.
   */
  private static boolean inThisJvm(SparkConf conf) {
    String master = conf.get("spark.master", "local");
    return master.equals("local") || master.startsWith("local[");
  }

  /**
   * {@code run.threads} when set; in local mode the ranks share this JVM's cores
   * ({@code local[N]}: N); on a cluster 0, for the task's {@code spark.task.cpus}.
   */
  private static int threadsPerRank(PretrainConfig config, JavaSparkContext jsc) {
    if (config.run().threads() > 0) {
      return config.run().threads();
    }
    if (inThisJvm(jsc.getConf())) {
      return Math.max(1, jsc.defaultParallelism() / config.run().ranks());
    }
    return 0;
  }

  /**
   * Tails rank 0's metrics.jsonl: in {@code run.dir} where that is shared, else the copy rank 0
   * uploads to the remote run folder at each checkpoint.
   */
  private static DriverProgress startProgress(PretrainConfig config, RemoteRunDir remote,
      PrintStream console) {
    MetricsTail metrics = remote != null ? remote.tail(TrainingLoop.METRICS_FILE)
        : MetricsTail.of(config.run().dirPath().resolve(TrainingLoop.METRICS_FILE));
    return DriverProgress.start(metrics, config.train().maxSteps(), config.train().logEvery(),
        console);
  }

  /** The final error when Spark gives up on the training stage: what happened and what is kept. */
  private static RuntimeException explain(Exception e, PretrainConfig config, RemoteRunDir remote,
      SparkConf conf, ExchangeHost exchange) {
    String message = String.valueOf(e.getMessage());
    if (!message.contains("has failed the maximum allowable number of times")) {
      return e instanceof RuntimeException unchecked ? unchecked
          : new IllegalStateException("pretrain " + config.run().dir() + ": " + message, e);
    }
    String kept = latestCheckpoint(config, remote)
        .map(c -> "its latest complete checkpoint is step " + c)
        .orElse("it holds no complete checkpoint yet");
    List<String> refusals = exchange.refusals();
    return new IllegalStateException("pretrain " + config.run().dir() + ": the training stage "
        + "failed " + conf.getInt("spark.stage.maxConsecutiveAttempts", 4) + " times in a row "
        + "(spark.stage.maxConsecutiveAttempts), each attempt resuming from the latest checkpoint;"
        + " giving up. The run folder is consistent: " + kept + "; submit the job again to resume"
        + " from it." + (refusals.isEmpty() ? "" : " The exchange refused: " + refusals)
        + " Last failure: " + lastTaskFailure(message), e);
  }

  /** The step and folder of the run's newest complete checkpoint, if there is one. */
  private static Optional<String> latestCheckpoint(PretrainConfig config, RemoteRunDir remote) {
    if (remote != null) {
      return remote.checkpoints().latest().map(c -> c.step() + " (" + c.dir() + ")");
    }
    return new CheckpointStore(config.run().dirPath()).latest()
        .map(c -> c.step() + " (" + c.dir() + ")");
  }

  /**
   * The failed task's exception line from Spark's abort message, which reads "... barrier task
   * ... finished unsuccessfully.", a newline, "exception: message", then the task's stack trace.
   */
  private static String lastTaskFailure(String message) {
    String marker = "finished unsuccessfully.";
    int at = message.lastIndexOf(marker);
    if (at < 0) {
      return message;
    }
    String rest = message.substring(at + marker.length()).strip();
    int end = rest.indexOf('\n');
    return end < 0 ? rest : rest.substring(0, end);
  }
}
