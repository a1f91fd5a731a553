package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.ExchangeException;
import io.mobaspark.trainer.testing.TestConfigs;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A failure that every attempt meets ends the job after the configured attempts, saying so. */
class TrainingRetriesTest {
  @TempDir Path tmp;

  @Test
  void theLastAttemptEndsTheJobWithWhatIsKeptAndWhy() throws Exception {
    CorpusPacker.pack(DistributedPretrainTest.documents(200, 1).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), tmp.resolve("data/train"), 8192);
    CorpusPacker.pack(DistributedPretrainTest.documents(20, 2).iterator(),
        Tokenizers.byName(Tokenizers.BYTES), tmp.resolve("data/val"), 8192);
    Path run = tmp.resolve("run");
    // A file where the checkpoints folder goes: rank 0 fails at its first checkpoint, each attempt.
    Files.createDirectories(run);
    Files.writeString(run.resolve("checkpoints"), "in the way");
    Map<String, String> o = TestConfigs.hybridOnBytes(tmp.resolve("data"), run);
    o.put("run.ranks", "2");
    o.put("run.backend", "cpu");
    o.put("train.max_steps", "2");
    o.put("train.warmup_steps", "1");
    o.put("train.checkpoint_every", "1");
    PretrainConfig config = PretrainConfig.load(null, o);

    try (SparkSession spark = SparkSession.builder().master("local[2]").appName("retries")
        .config("spark.ui.enabled", "false")
        .config("spark.stage.maxConsecutiveAttempts", "2")
        .getOrCreate()) {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> PretrainJob.run(jsc, config, System.out));
      String message = e.getMessage();
      assertTrue(message.contains("failed 2 times in a row")
          && message.contains("spark.stage.maxConsecutiveAttempts")
          && message.contains("holds no complete checkpoint"), message);
      // Rank 0's own failure, or rank 1's report of rank 0 leaving, whichever reached Spark first.
      assertTrue(message.contains("Last failure: " + UncheckedIOException.class.getName()
              + ": cannot write checkpoint")
          || message.contains("Last failure: " + ExchangeException.class.getName() + ": rank 1"),
          message);
    }
  }
}
