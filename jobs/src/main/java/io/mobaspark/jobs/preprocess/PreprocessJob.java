package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import io.mobaspark.data.CorpusPacker;
import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import io.mobaspark.jobs.TaskProgress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;

/**
 * Inputs to the two Arrow datasets a pretraining run reads ({@code train/}, {@code val/}).
 *
 * <p>The DataFrame stages ({@link DocumentPipeline}) clean, filter, deduplicate and split the
 * documents; the dedup hash-partitions them by text, so each split is only sorted by content hash
 * within those partitions (the output does not depend on how the input was partitioned) and packed,
 * partition by partition, into
 * shards {@code part-PPPPP-NNNNN.arrow} written under temporary names and renamed. The driver writes
 * each split's manifest last, listing shards in partition order: a dataset without a manifest is
 * incomplete, and a re-run clears and replaces it.
 */
public final class PreprocessJob {
  private PreprocessJob() {}

  public static PreprocessResult run(SparkSession spark, PreprocessOptions options,
      PrintStream console) throws IOException {
    long start = System.nanoTime();
    Tokenizer tokenizer = Tokenizers.byName(options.tokenizer());
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    prepareOutput(options);

    Dataset<Row> cleaned = DocumentPipeline.cleaned(spark, options)
        .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> documents = null;
    try {
      jsc.setJobDescription("preprocess: read, clean and count " + options.inputs());
      Row counts = cleaned.agg(count(lit(1)),
          sum(when(DocumentPipeline.withinLimits(options), 1).otherwise(0))).first();
      long read = counts.getLong(0);
      long kept = read == 0 ? 0 : counts.getLong(1);
      if (read == 0) {
        throw new IllegalArgumentException("--input " + options.inputs() + " holds no documents");
      }
      if (kept == 0) {
        throw new IllegalArgumentException("--input " + options.inputs() + ": no document is "
            + "within --min-chars " + options.minChars() + " and --max-chars "
            + options.maxChars());
      }
      documents = DocumentPipeline.deduplicated(DocumentPipeline.filtered(cleaned, options),
          options).persist(StorageLevel.MEMORY_AND_DISK());

      List<ShardInfo> train = pack(documents, DocumentPipeline.TRAIN, options.trainDir(),
          options, console);
      List<ShardInfo> val = options.valFraction() == 0 ? List.of()
          : pack(documents, DocumentPipeline.VAL, options.valDir(), options, console);
      long unique = docs(train) + docs(val);
      console.printf(Locale.ROOT, "[preprocess] %,d documents read, %,d outside the length limits, "
          + "%,d duplicates removed%n", read, read - kept, kept - unique);
      if (train.isEmpty()) {
        throw new IllegalArgumentException("--input " + options.inputs()
            + ": every document went to the validation split; lower --val-fraction");
      }
      if (options.valFraction() > 0 && val.isEmpty()) {
        throw new IllegalArgumentException(String.format(Locale.ROOT,
            "the validation split is empty: none of the %d documents hashed below --val-fraction "
                + "%.3f; raise it, lower --chunk-chars to get more documents, or pass 0", unique,
            options.valFraction()));
      }
      Manifest valManifest = val.isEmpty() ? null
          : CorpusPacker.writeManifest(options.valDir(), tokenizer, val);
      Manifest trainManifest = CorpusPacker.writeManifest(options.trainDir(), tokenizer, train);
      return new PreprocessResult(trainManifest, valManifest, read, read - kept, kept - unique,
          (System.nanoTime() - start) / 1e9);
    } finally {
      jsc.clearJobGroup();
      cleaned.unpersist();
      if (documents != null) {
        documents.unpersist();
      }
    }
  }

  private static long docs(List<ShardInfo> shards) {
    return shards.stream().mapToLong(ShardInfo::documents).sum();
  }

  /**
   * Packs one split's documents into {@code dir}, a task per partition of the dedup (which already
   * hash-partitioned them by text: no further shuffle), shards in partition order.
   */
  private static List<ShardInfo> pack(Dataset<Row> documents, String split, Path dir,
      PreprocessOptions options, PrintStream console) {
    String tokenizerName = options.tokenizer();
    String dirName = dir.toAbsolutePath().toString();
    long shardTokens = options.shardTokens();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(documents.sparkSession().sparkContext());
    jsc.setJobDescription(String.format(Locale.ROOT, "preprocess: tokenize (%s) and pack %s -> %s",
        tokenizerName, split, dir));
    List<ShardInfo> shards = new ArrayList<>();
    try (TaskProgress progress = TaskProgress.start(jsc.sc(), console, "preprocess " + split,
        "partitions packed", options.partitions())) {
      LongAccumulator packed = progress.counter();
      List<List<ShardInfo>> perPartition = documents.filter(col("split").equalTo(split))
          .sortWithinPartitions("hash", "text")
          .select("text").as(Encoders.STRING())
          .javaRDD()
          .mapPartitionsWithIndex((index, texts) -> {
            List<ShardInfo> written = CorpusPacker.packPartition(texts,
                Tokenizers.byName(tokenizerName), Path.of(dirName), shardTokens,
                String.format(Locale.ROOT, "part-%05d", index));
            packed.add(1);
            return List.of(written).iterator();
          }, true)
          .collect();
      perPartition.forEach(shards::addAll);
    }
    return shards;
  }

  /**
   * Refuses to replace a finished dataset unless asked to; clears what an earlier run left (its
   * manifest first, so a crash during the clean-up never leaves a manifest without its shards).
   */
  private static void prepareOutput(PreprocessOptions options) throws IOException {
    Path output = options.output();
    if (Files.exists(output) && !Files.isDirectory(output)) {
      throw new IllegalArgumentException("--output " + output + " is a file, not a folder");
    }
    for (Path split : List.of(options.trainDir(), options.valDir())) {
      Path manifest = split.resolve(Manifest.FILE_NAME);
      if (Files.exists(manifest) && !options.overwrite()) {
        throw new IllegalArgumentException("--output " + output + " already holds a dataset ("
            + manifest + "); pass --overwrite to replace it, or choose another folder");
      }
    }
    for (Path split : List.of(options.trainDir(), options.valDir())) {
      Files.createDirectories(split);
      Files.deleteIfExists(split.resolve(Manifest.FILE_NAME));
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(split)) {
        for (Path entry : entries) {
          String name = entry.getFileName().toString();
          if (name.endsWith(".arrow") || (name.startsWith(".") && name.endsWith(".tmp"))) {
            Files.delete(entry);
          }
        }
      }
    }
  }
}
