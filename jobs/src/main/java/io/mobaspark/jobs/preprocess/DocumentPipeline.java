package io.mobaspark.jobs.preprocess;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.length;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.pmod;
import static org.apache.spark.sql.functions.when;
import static org.apache.spark.sql.functions.xxhash64;

import java.io.IOException;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;

/**
 * The DataFrame stages of preprocessing, from the read documents to the split documents
 * {@code (hash LONG, split STRING, text STRING, copies LONG)}, partitioned by text, that the packing
 * step sorts and tokenizes.
 *
 * <pre>
 *   sql: read (+ NFC, line ends, chunks)  →  clean (SQL regex)  →  filter length
 *        →  exact dedup (hash aggregate)  →  hash, split by hash
 *   jvm: read (+ NFC, line ends, chunks, clean, filter length: one Java function)
 *        →  partition by text  →  hash, split by hash;  exact dedup in the packing tasks' sort
 * </pre>
 *
 * With {@link CleaningPath#SQL} everything after the read is a SQL expression or a hash aggregate,
 * which Spark RAPIDS runs on the GPU; the RAPIDS explain test pins that. {@link CleaningPath#JVM}
 * gives the same documents for a fraction of the CPU time (docs/perf/preprocess.md).
 */
public final class DocumentPipeline {
  /** Split assignment resolution: the validation fraction is matched to 1 part in a million. */
  static final long SPLIT_BUCKETS = 1_000_000L;
  public static final String TRAIN = "train";
  public static final String VAL = "val";

  private DocumentPipeline() {}

  /** The cleaning path the job takes under {@code spark}'s settings: SQL or JVM, never AUTO. */
  public static CleaningPath cleaningPath(SparkSession spark, PreprocessOptions options) {
    return options.cleaning().resolve(spark.sparkContext().getConf());
  }

  /**
   * The read documents, cleaned: {@code (source, text)}, one row per chunk; with the SQL cleaning
   * the empty ones are kept (the filter drops them), with the JVM cleaning only the documents within
   * the length limits are left. {@code chunksRead} counts the chunks as the read tasks make them.
   */
  public static Dataset<Row> cleaned(SparkSession spark, PreprocessOptions options,
      LongAccumulator chunksRead) throws IOException {
    CleaningPath path = cleaningPath(spark, options);
    Dataset<Row> read = DocumentSources.read(spark, options, path, chunksRead);
    if (path == CleaningPath.JVM) {
      return read;
    }
    return read.select(col("source"), TextCleaning.clean(col("text")).as("text"));
  }

  /** Documents within the length limits (the JVM cleaning has filtered them already). */
  public static Dataset<Row> filtered(Dataset<Row> cleaned, PreprocessOptions options) {
    if (cleaningPath(cleaned.sparkSession(), options) == CleaningPath.JVM) {
      return cleaned;
    }
    return cleaned.filter(withinLimits(options));
  }

  /** True for a cleaned document within {@code --min-chars} and {@code --max-chars}. */
  static Column withinLimits(PreprocessOptions options) {
    Column keep = length(col("text")).geq(options.minChars());
    if (options.maxChars() > 0) {
      keep = keep.and(length(col("text")).leq(options.maxChars()));
    }
    return keep;
  }

  /**
   * Exact dedup on the whole text, then the content hash and the split: the same text always gets
   * the same hash and split, on any cluster. {@code copies} says how many filtered documents each
   * row stands for, so the packing tasks count the kept documents exactly, without a pass of their
   * own. Partitioned by the text itself, the dedup needs no second shuffle, and its parallelism is
   * the job's, not spark.sql.shuffle.partitions (200 tiny tasks on a laptop).
   *
   * <p>With the SQL cleaning the dedup is a hash aggregate, {@code groupBy(text)} (on the GPU under
   * Spark RAPIDS): no two rows are equal. With the JVM cleaning the rows keep their duplicates, one
   * copy each: equal texts share a partition and, once the packing task has sorted them by (split,
   * hash, text), are next to each other, where {@link PartitionPacker} keeps the first of each run,
   * comparing texts only when the hashes are equal. That spares the aggregate's hashing and copying
   * of every text.
   */
  public static Dataset<Row> deduplicated(Dataset<Row> filtered, PreprocessOptions options) {
    long valBuckets = Math.round(options.valFraction() * SPLIT_BUCKETS);
    Column hash = xxhash64(col("text"));
    Dataset<Row> byText = filtered.select(col("text")).repartition(options.partitions(),
        col("text"));
    Dataset<Row> counted = cleaningPath(filtered.sparkSession(), options) == CleaningPath.JVM
        ? byText.select(col("text"), lit(1L).as("copies"))
        : byText.groupBy("text").agg(count(lit(1)).as("copies"));
    return counted.select(hash.as("hash"),
        when(pmod(hash, lit(SPLIT_BUCKETS)).lt(valBuckets), lit(VAL)).otherwise(lit(TRAIN))
            .as("split"),
        col("text"), col("copies"));
  }
}
