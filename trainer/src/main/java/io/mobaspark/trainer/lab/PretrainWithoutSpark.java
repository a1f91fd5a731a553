package io.mobaspark.trainer.lab;

import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.PretrainRun;
import io.mobaspark.trainer.loop.TrainSummary;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A pretraining run in this JVM without Spark: what one training task of the {@code pretrain} job
 * does, for machines that carry no Spark jars (the GPU test machine, docs/perf/training.md). Same
 * config keys, run folder, checkpoints and metrics as the job.
 *
 * <pre>PretrainWithoutSpark RUN.conf [key=value ...]</pre>
 */
public final class PretrainWithoutSpark {
  private PretrainWithoutSpark() {}

  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: PretrainWithoutSpark RUN.conf [key=value ...]");
      System.exit(2);
    }
    Map<String, String> overrides = new LinkedHashMap<>();
    for (int i = 1; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq <= 0) {
        System.err.println("override '" + args[i] + "' is not key=value");
        System.exit(2);
      }
      overrides.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    PretrainConfig config = PretrainConfig.load(Path.of(args[0]), overrides);
    TrainSummary summary = PretrainRun.run(config, System.out);
    System.out.println(summary);
  }
}
