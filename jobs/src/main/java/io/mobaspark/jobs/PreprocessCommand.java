package io.mobaspark.jobs;

import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.preprocess.CleaningPath;
import io.mobaspark.jobs.preprocess.InputFormat;
import io.mobaspark.jobs.preprocess.PreprocessJob;
import io.mobaspark.jobs.preprocess.PreprocessOptions;
import io.mobaspark.jobs.preprocess.PreprocessResult;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mobaspark preprocess}: text files to train/val Arrow shard datasets. */
@Command(name = "preprocess", mixinStandardHelpOptions = true,
    description = "Clean, deduplicate, split and tokenize documents into Arrow shard datasets "
        + "OUTPUT/train and OUTPUT/val.")
final class PreprocessCommand implements Callable<Integer> {

  @Option(names = "--input", required = true, split = ",",
      description = "Files or folders, local or any Hadoop FileSystem URI; repeat or comma-separate.")
  List<String> inputs;

  @Option(names = "--format", defaultValue = "auto",
      description = "auto (by name: .jsonl/.json, .parquet, else text), text (*.txt under folders), "
          + "jsonl or parquet (default: ${DEFAULT-VALUE}).")
  String format;

  @Option(names = "--text-field", defaultValue = "text",
      description = "JSON field or Parquet column holding the document (default: ${DEFAULT-VALUE}).")
  String textField;

  @Option(names = "--output", required = true, description = "Dataset folder to create.")
  Path output;

  @Option(names = "--tokenizer", defaultValue = Tokenizers.DEFAULT,
      description = "r50k_base, cl100k_base or bytes (default: ${DEFAULT-VALUE}).")
  String tokenizer;

  @Option(names = "--val-fraction", defaultValue = "0.05",
      description = "Share of documents in the validation split, by content hash (default: ${DEFAULT-VALUE}).")
  double valFraction;

  @Option(names = "--shard-tokens", defaultValue = "100000000",
      description = "Tokens per shard (default: ${DEFAULT-VALUE}).")
  long shardTokens;

  @Option(names = "--chunk-chars", defaultValue = "16000",
      description = "Split longer texts at paragraph breaks into documents of about this many "
          + "characters; 0 keeps each file whole (default: ${DEFAULT-VALUE}).")
  int chunkChars;

  @Option(names = "--min-chars", defaultValue = "1",
      description = "Drop documents shorter than this after cleaning (default: ${DEFAULT-VALUE}).")
  int minChars;

  @Option(names = "--max-chars", defaultValue = "0",
      description = "Drop documents longer than this after cleaning; 0 = no limit (default: ${DEFAULT-VALUE}).")
  int maxChars;

  @Option(names = "--partitions", defaultValue = "0",
      description = "Parallel tasks; 0 = Spark's default parallelism (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--cleaning", defaultValue = "auto",
      description = "Where the cleaning and length filter run: sql (Spark SQL regex, on the GPU "
          + "under Spark RAPIDS), jvm (one Java pass, fastest on CPUs) or auto (sql when spark.plugins "
          + "lists com.nvidia.spark.SQLPlugin, else jvm) (default: ${DEFAULT-VALUE}).")
  String cleaning;

  @Option(names = "--overwrite", description = "Replace a dataset already at --output.")
  boolean overwrite;

  @Option(names = "--master", description = "Spark master (default: spark-submit's, else local[*]).")
  String master;

  @Override
  public Integer call() throws Exception {
    // Named values are checked before Spark starts (seconds), the rest with the partition count.
    InputFormat inputFormat = InputFormat.parse(format);
    CleaningPath cleaningPath = CleaningPath.parse(cleaning);
    try (SparkSession spark = SparkSessions.start("mobaspark preprocess", master)) {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      int tasks = partitions > 0 ? partitions : jsc.defaultParallelism();
      PreprocessOptions options = new PreprocessOptions(inputs, inputFormat, textField, output,
          tokenizer, valFraction, shardTokens, chunkChars, minChars, maxChars, tasks, overwrite,
          cleaningPath);
      PreprocessResult result = PreprocessJob.run(spark, options, System.out);
      System.out.println("[preprocess] " + result.summary());
      System.out.println("[preprocess] wrote " + options.trainDir() + " and " + options.valDir());
    }
    return 0;
  }
}
