package io.mobaspark.jobs.preprocess;

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
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;

/**
 * Inputs to the two Arrow datasets a pretraining run reads ({@code train/}, {@code val/}).
 *
 * <p>The DataFrame stages ({@link DocumentPipeline}) clean, filter, deduplicate and split the
 * documents; the dedup hash-partitions them by text, so each partition is only sorted by split,
 * content hash and text (the output does not depend on how the input was partitioned; with the JVM
 * cleaning that sort also brings duplicates together, and the packer keeps one of each) and packed
 * into both splits' shards {@code part-PPPPP-NNNNN.arrow}, written under temporary names and
 * renamed. All of it is one Spark action: the input is read once and nothing is cached. The driver
 * writes each split's manifest last, listing shards in partition order: a dataset without a
 * manifest is incomplete, and a re-run clears and replaces it.
 */
public final class PreprocessJob {
  private PreprocessJob() {}

  public static PreprocessResult run(SparkSession spark, PreprocessOptions options,
      PrintStream console) throws IOException {
    long start = System.nanoTime();
    Tokenizer tokenizer = Tokenizers.byName(options.tokenizer());
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    prepareOutput(options);

    LongAccumulator chunksRead = spark.sparkContext().longAccumulator("preprocess: documents read");
    Dataset<Row> documents = DocumentPipeline.deduplicated(DocumentPipeline.filtered(
        DocumentPipeline.cleaned(spark, options, chunksRead), options), options);
    List<PackedPartition> packed;
    CleaningPath cleaning = DocumentPipeline.cleaningPath(spark, options);
    try (JvmPathSettings ignored = JvmPathSettings.apply(spark, cleaning)) {
      jsc.setJobDescription(String.format(Locale.ROOT,
          "preprocess: read, clean (%s), dedup, tokenize (%s) and pack %s -> %s",
          cleaning.name().toLowerCase(Locale.ROOT),
          options.tokenizer(), options.inputs(), options.output()));
      packed = pack(documents, options, console);
    } finally {
      jsc.clearJobGroup();
    }
    long read = chunksRead.value();
    long kept = packed.stream().mapToLong(PackedPartition::copies).sum();
    // No document passed the filters, so no task wrote a shard: the output holds no dataset.
    if (read == 0) {
      throw new IllegalArgumentException("--input " + options.inputs() + " holds no documents");
    }
    if (kept == 0) {
      throw new IllegalArgumentException("--input " + options.inputs() + ": no document is "
          + "within --min-chars " + options.minChars() + " and --max-chars "
          + options.maxChars());
    }
    List<ShardInfo> train = new ArrayList<>();
    List<ShardInfo> val = new ArrayList<>();
    for (PackedPartition partition : packed) {
      train.addAll(partition.train());
      val.addAll(partition.val());
    }
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
  }

  private static long docs(List<ShardInfo> shards) {
    return shards.stream().mapToLong(ShardInfo::documents).sum();
  }

  /**
   * Packs both splits in one job, a task per partition of the dedup (which already hash-partitioned
   * the documents by text: no further shuffle); the result lists each task's shards, in partition
   * order. Progress: a line per split as each task finishes it.
   */
  private static List<PackedPartition> pack(Dataset<Row> documents, PreprocessOptions options,
      PrintStream console) {
    SparkContext sc = documents.sparkSession().sparkContext();
    boolean hasVal = options.valFraction() > 0;
    try (TaskProgress train = TaskProgress.start(sc, console,
            "preprocess " + DocumentPipeline.TRAIN, "partitions packed", options.partitions());
        TaskProgress val = hasVal ? TaskProgress.start(sc, console,
            "preprocess " + DocumentPipeline.VAL, "partitions packed", options.partitions())
            : null) {
      PartitionPacker packer = new PartitionPacker(options, train.counter(),
          hasVal ? val.counter() : null);
      return documents.sortWithinPartitions("split", "hash", "text")
          .selectExpr(PartitionPacker.COLUMNS)
          .mapPartitions(packer, Encoders.javaSerialization(PackedPartition.class))
          .collectAsList();
    }
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
