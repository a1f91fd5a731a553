package io.mobaspark.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * Builds the session of a job. Under spark-submit the master and every setting come from there; run
 * directly (bin/mobaspark) the embedded default is Spark local mode in this JVM.
 */
final class SparkSessions {
  private SparkSessions() {}

  /**
   * @param master explicit master (e.g. {@code local[2]}), or null for spark-submit's or
   *     {@code local[*]}
   */
  static SparkSession start(String appName, String master) {
    SparkConf conf = new SparkConf();
    if (master != null) {
      conf.setMaster(master);
    } else if (!conf.contains("spark.master")) {
      conf.setMaster("local[*]");
    }
    if (conf.get("spark.master").startsWith("local") && !conf.contains("spark.ui.enabled")) {
      // A laptop run needs no web UI, and a second job on the same machine would fight for its port.
      conf.set("spark.ui.enabled", "false");
    }
    // Shards are written under temp names and renamed: a speculative duplicate task would only race.
    conf.set("spark.speculation", "false");
    conf.setAppName(appName);
    SparkSession session = SparkSession.builder().config(conf).getOrCreate();
    session.sparkContext().setLogLevel("WARN");
    return session;
  }
}
