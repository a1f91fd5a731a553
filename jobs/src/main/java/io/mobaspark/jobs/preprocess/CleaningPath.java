package io.mobaspark.jobs.preprocess;

import java.util.Arrays;
import java.util.Locale;
import org.apache.spark.SparkConf;

/**
 * Where the text cleaning and length filter run ({@code --cleaning}). Both paths compute the same
 * documents ({@code TextCleaningTest} pins that); they differ in cost. Measured on 2 CPU cores
 * (docs/perf/preprocess.md), the SQL regex passes cost more than the tokenizer, while the Java pass
 * is one scan inside the read stage's function; on a Spark RAPIDS cluster the SQL expressions run on
 * the GPU and the Java pass would be CPU work the GPU could have done.
 */
public enum CleaningPath {
  /** {@link #SQL} when {@code spark.plugins} lists Spark RAPIDS' {@value #RAPIDS_PLUGIN}, else {@link #JVM}. */
  AUTO,
  /** SQL {@code regexp_replace}, {@code trim} and {@code length} after the read ({@link TextCleaning#clean}). */
  SQL,
  /** One Java pass per document in the read stage's function ({@link TextCleaning#cleanText}). */
  JVM;

  /** The plugin class whose presence in {@code spark.plugins} makes {@link #AUTO} pick {@link #SQL}. */
  public static final String RAPIDS_PLUGIN = "com.nvidia.spark.SQLPlugin";

  /** Parses {@code auto}, {@code sql} or {@code jvm} (any case); null means auto. */
  public static CleaningPath parse(String name) {
    if (name == null) {
      return AUTO;
    }
    try {
      return valueOf(name.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "--cleaning must be auto, sql or jvm, got '" + name + "'", e);
    }
  }

  /** The path this one stands for under {@code conf}: {@link #SQL} or {@link #JVM}, never AUTO. */
  public CleaningPath resolve(SparkConf conf) {
    if (this != AUTO) {
      return this;
    }
    boolean rapids = Arrays.stream(conf.get("spark.plugins", "").split(","))
        .map(String::trim).anyMatch(RAPIDS_PLUGIN::equals);
    return rapids ? SQL : JVM;
  }
}
