package io.mobaspark.jobs;

import io.mobaspark.data.Dataset;
import io.mobaspark.data.UnigramEntropy;
import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.preprocess.PreprocessJob;
import io.mobaspark.jobs.preprocess.PreprocessOptions;
import io.mobaspark.jobs.pretrain.PretrainJob;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TrainSummary;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mobaspark demo}: the bundled corpus, byte-tokenized, and a small SWA/MoBA model trained on
 * it in Spark local mode, ending with the validation loss against the corpus' unigram entropy.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Preprocess the bundled corpus and pretrain the demo model on it (Spark local).")
final class DemoCommand implements Callable<Integer> {
  /** Set by bin/mobaspark: the repository root, where the corpus and configs live. */
  static final String HOME_PROPERTY = "mobaspark.home";

  @Option(names = "--work", description = "Folder for the dataset and runs (default: HOME/work/demo).")
  Path work;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override a key of conf/pretrain/demo.conf, e.g. --set train.max_steps=50.")
  List<String> overrides;

  @Option(names = "--master", defaultValue = "local[*]",
      description = "Spark master (default: ${DEFAULT-VALUE}).")
  String master;

  @Override
  public Integer call() throws Exception {
    Path home = Path.of(System.getProperty(HOME_PROPERTY, ".")).toAbsolutePath().normalize();
    Path corpus = home.resolve("data/corpus/gutenberg");
    Path config = home.resolve("conf/pretrain/demo.conf");
    Path workDir = (work != null ? work : home.resolve("work/demo")).toAbsolutePath();
    Path data = workDir.resolve("data");
    Path runDir = workDir.resolve("runs").resolve(
        LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));

    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("data.train", data.resolve("train").toString());
    settings.put("data.val", data.resolve("val").toString());
    settings.put("run.dir", runDir.toString());
    settings.putAll(ConfigOverrides.parse(overrides));
    PretrainConfig cfg = PretrainConfig.load(config, settings);

    try (SparkSession spark = SparkSessions.start("mobaspark demo", master)) {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      if (Files.exists(data.resolve("train").resolve(Manifest.FILE_NAME))
          && Files.exists(data.resolve("val").resolve(Manifest.FILE_NAME))) {
        System.out.println("[demo] reusing the dataset in " + data);
      } else {
        System.out.println("[demo] preprocessing " + corpus + " -> " + data);
        var options = PreprocessOptions.textFiles(List.of(corpus.toString()), data,
            Tokenizers.BYTES, 0.05, 1 << 20, 16000, jsc.defaultParallelism(), true);
        System.out.println("[demo] " + PreprocessJob.run(spark, options, System.out).summary());
      }
      System.out.printf(Locale.ROOT, "[demo] pretraining a %,d-parameter %s model -> %s%n",
          cfg.model().parameterCount(), cfg.model().toMap().get("attention"), runDir);
      TrainSummary summary = PretrainJob.run(jsc, cfg, System.out);
      System.out.println("[demo] " + PretrainReport.line(summary, cfg));
      try (Dataset val = Dataset.open(data.resolve("val"))) {
        double unigram = UnigramEntropy.nats(val);
        System.out.printf(Locale.ROOT, "[demo] validation loss %.3f nats/token vs %.3f for the "
                + "best context-free (unigram) model of the validation bytes: %s%n",
            summary.valLoss(), unigram, summary.valLoss() < unigram ? "the model uses context"
                : "not below the unigram entropy yet (train longer)");
      }
    }
    return 0;
  }
}
