package io.mobaspark.jobs.pretrain;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TrainSummary;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * The pretrain runs of the remote run.dir tests: two ranks on the bytes corpus, checkpoints and
 * evaluations every 4 steps and a constant learning rate, so that a job stopped at step 8 and one
 * resumed to 12 follow the schedule of one run to 12.
 */
final class ResumableRuns {
  private ResumableRuns() {}

  /** Packs the train (200 documents) and val (20) datasets under {@code data}. */
  static void packData(Path data) throws IOException {
    CorpusPacker.pack(DistributedPretrainTest.documents(200, 1).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), data.resolve("train"), 8192);
    CorpusPacker.pack(DistributedPretrainTest.documents(20, 2).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), data.resolve("val"), 8192);
  }

  /** The overrides of a run into {@code runDir} up to {@code maxSteps}, keeping 2 checkpoints. */
  static Map<String, String> overrides(Path data, String runDir, int maxSteps) {
    Map<String, String> o = TestConfigs.hybridOnBytes(data, Path.of("unused"));
    o.put("run.dir", runDir);
    o.put("run.backend", "cpu");
    o.put("run.ranks", "2");
    o.put("train.max_steps", Integer.toString(maxSteps));
    o.put("train.warmup_steps", "0");
    o.put("train.min_lr", o.get("train.lr"));
    o.put("train.keep_checkpoints", "2");
    o.put("exchange.timeout", "60s");
    return o;
  }

  /** Runs the pretrain job on {@code spark} with its console discarded. */
  static TrainSummary train(SparkSession spark, Map<String, String> overrides) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    return PretrainJob.run(jsc, PretrainConfig.load(null, overrides),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
  }
}
