package io.mobaspark.jobs;

import io.mobaspark.jobs.pretrain.PretrainJob;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TrainSummary;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mobaspark pretrain}: a training run from a HOCON config. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
    description = "Pretrain a model on preprocessed shards; resumes from the run folder's latest "
        + "checkpoint.")
final class PretrainCommand implements Callable<Integer> {

  @Option(names = "--config",
      description = "Run config (HOCON) overriding the defaults; none = defaults only.")
  Path config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override one key, e.g. --set train.max_steps=100 (repeatable).")
  List<String> overrides;

  @Option(names = "--master", description = "Spark master (default: spark-submit's, else local[*]).")
  String master;

  @Override
  public Integer call() throws Exception {
    PretrainConfig cfg = PretrainConfig.load(config, ConfigOverrides.parse(overrides));
    try (SparkSession spark = SparkSessions.start("mobaspark pretrain", master)) {
      TrainSummary summary =
          PretrainJob.run(JavaSparkContext.fromSparkContext(spark.sparkContext()), cfg,
              System.out);
      System.out.println("[pretrain] " + PretrainReport.line(summary, cfg));
    }
    return 0;
  }
}
