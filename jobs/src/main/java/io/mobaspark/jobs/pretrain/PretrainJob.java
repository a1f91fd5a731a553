package io.mobaspark.jobs.pretrain;

import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.PretrainRun;
import io.mobaspark.trainer.loop.TrainSummary;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * A pretraining run as one Spark task: the task builds its backend, memory-maps the shards and runs
 * the whole step loop (one rank; the distributed version is a barrier stage of one task per GPU).
 * The config travels to the task as a validated value and the datasets are opened on the driver
 * first, so a bad key or a damaged shard fails before any task starts, with its own message.
 */
public final class PretrainJob {
  private PretrainJob() {}

  public static TrainSummary run(JavaSparkContext jsc, PretrainConfig config) {
    PretrainRun.checkDatasets(config);
    jsc.setJobDescription(String.format(Locale.ROOT, "pretrain %s: %d steps of %d x %d tokens",
        config.run().dir(), config.train().maxSteps(), config.train().batchSize(),
        config.train().seqLen()));
    try {
      List<TrainSummary> result = jsc.parallelize(List.of(0), 1)
          .map(rank -> PretrainRun.run(config, System.out))
          .collect();
      return result.get(0);
    } finally {
      jsc.clearJobGroup();
    }
  }
}
