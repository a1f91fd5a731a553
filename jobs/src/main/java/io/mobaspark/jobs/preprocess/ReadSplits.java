package io.mobaspark.jobs.preprocess;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.RuntimeConfig;
import org.apache.spark.sql.SparkSession;

/**
 * Smaller read tasks while the job's action runs with the JVM cleaning, so that the cores share
 * the read stage evenly: Spark packs files into read tasks of up to 128 MiB counting 4 MiB per file
 * ({@code spark.sql.files.openCostInBytes}), which on a 22 MB corpus of 251 files gave one task
 * the 29 largest files, 60% of the text, while the other core soon sat idle
 * (docs/perf/preprocess.md). With the JVM cleaning that stage holds the decoding, unifying,
 * chunking and cleaning.
 *
 * <p>Only settings the session does not set itself are changed, and they are restored on
 * {@link #close}. With the SQL cleaning (Spark RAPIDS) nothing changes: the GPU wants large batches.
 */
final class ReadSplits implements AutoCloseable {
  static final String OPEN_COST = "spark.sql.files.openCostInBytes";
  static final String MIN_PARTITIONS = "spark.sql.files.minPartitionNum";
  /** Opening a file costs about as much as reading this many bytes (Spark's default: 4 MiB). */
  static final long OPEN_COST_BYTES = 64L << 10;
  /** Read tasks per core: enough for the scheduler to balance files of unequal size. */
  static final int TASKS_PER_CORE = 4;

  private final RuntimeConfig conf;
  private final Map<String, String> changed;

  private ReadSplits(RuntimeConfig conf, Map<String, String> changed) {
    this.conf = conf;
    this.changed = changed;
  }

  /** Applies the settings for {@code path} (none for SQL) until {@link #close}. */
  static ReadSplits apply(SparkSession spark, CleaningPath path) {
    RuntimeConfig conf = spark.conf();
    Map<String, String> changed = new LinkedHashMap<>();
    if (path == CleaningPath.JVM) {
      int cores = spark.sparkContext().defaultParallelism();
      Map<String, String> wanted = Map.of(OPEN_COST, Long.toString(OPEN_COST_BYTES),
          MIN_PARTITIONS, Integer.toString(TASKS_PER_CORE * cores));
      for (Map.Entry<String, String> e : wanted.entrySet()) {
        if (!conf.contains(e.getKey())) {
          conf.set(e.getKey(), e.getValue());
          changed.put(e.getKey(), e.getValue());
        }
      }
    }
    return new ReadSplits(conf, changed);
  }

  /** The settings this changed, with their values. */
  Map<String, String> changed() {
    return Map.copyOf(changed);
  }

  @Override
  public void close() {
    changed.keySet().forEach(conf::unset);
  }
}
