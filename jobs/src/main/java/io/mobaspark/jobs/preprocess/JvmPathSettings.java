package io.mobaspark.jobs.preprocess;

import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.RuntimeConfig;
import org.apache.spark.sql.SparkSession;

/**
 * Session settings while the job's action runs with the JVM cleaning:
 * <ul>
 *   <li>Smaller read tasks, so that the cores share the read stage evenly: Spark packs files into
 *       read tasks of up to 128 MiB counting 4 MiB per file ({@code spark.sql.files.openCostInBytes}),
 *       which on a 22 MB corpus of 251 files gave one task the 29 largest files, 60% of the text,
 *       while the other core soon sat idle (docs/perf/preprocess.md). With the JVM cleaning that
 *       stage holds the reading, decoding, unifying, chunking and cleaning.
 *   <li>No adaptive query execution: the plan has one shuffle into a number of partitions the job
 *       fixes, so there is nothing to adapt, but AQE still re-plans the rest of the query once the
 *       read stage has ended, 0.1–0.3 s between the two stages on the npm corpus, where without it
 *       the packing stage starts within milliseconds. The partitioning, and so the output, is the
 *       same either way.
 * </ul>
 *
 * <p>Only settings the session does not set itself are changed, and they are restored on
 * {@link #close}. With the SQL cleaning (Spark RAPIDS) nothing changes: the GPU wants large batches.
 */
final class JvmPathSettings implements AutoCloseable {
  static final String OPEN_COST = "spark.sql.files.openCostInBytes";
  static final String MIN_PARTITIONS = "spark.sql.files.minPartitionNum";
  static final String ADAPTIVE = "spark.sql.adaptive.enabled";
  /** Opening a file costs about as much as reading this many bytes (Spark's default: 4 MiB). */
  static final long OPEN_COST_BYTES = 64L << 10;
  /** Read tasks per core: enough for the scheduler to balance files of unequal size. */
  static final int TASKS_PER_CORE = 4;

  private final RuntimeConfig conf;
  private final Map<String, String> changed;

  private JvmPathSettings(RuntimeConfig conf, Map<String, String> changed) {
    this.conf = conf;
    this.changed = changed;
  }

  /** Applies the settings for {@code path} (none for SQL) until {@link #close}. */
  static JvmPathSettings apply(SparkSession spark, CleaningPath path) {
    RuntimeConfig conf = spark.conf();
    Map<String, String> changed = new LinkedHashMap<>();
    if (path == CleaningPath.JVM) {
      int cores = spark.sparkContext().defaultParallelism();
      Map<String, String> wanted = Map.of(OPEN_COST, Long.toString(OPEN_COST_BYTES),
          MIN_PARTITIONS, Integer.toString(TASKS_PER_CORE * cores), ADAPTIVE, "false");
      for (Map.Entry<String, String> e : wanted.entrySet()) {
        if (!conf.contains(e.getKey())) {
          conf.set(e.getKey(), e.getValue());
          changed.put(e.getKey(), e.getValue());
        }
      }
    }
    return new JvmPathSettings(conf, changed);
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
