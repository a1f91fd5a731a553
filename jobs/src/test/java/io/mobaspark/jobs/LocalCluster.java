package io.mobaspark.jobs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;

/**
 * A Spark standalone cluster in this machine's processes ({@code local-cluster}): real worker and
 * executor JVMs, barrier stages and GPU scheduling with a fake GPU per worker. One start costs
 * several seconds: share one per test class.
 */
public final class LocalCluster {
  private LocalCluster() {}

  /**
   * Starts {@code workers} workers of one core and {@code memoryMb} each, every worker offering one
   * fake GPU (address "0"); executors offer theirs to tasks.
   */
  public static SparkSession start(String appName, int workers, int memoryMb, Path scratch)
      throws IOException {
    Path discovery = scratch.resolve("fake-gpu-discovery.sh");
    Files.writeString(discovery,
        "#!/usr/bin/env bash\necho '{\"name\": \"gpu\", \"addresses\": [\"0\"]}'\n");
    Files.setPosixFilePermissions(discovery, PosixFilePermissions.fromString("rwxr-xr-x"));
    SparkSession session = SparkSession.builder()
        .master("local-cluster[" + workers + ",1," + memoryMb + "]")
        .appName(appName)
        .config("spark.ui.enabled", "false")
        .config("spark.executor.memory", (memoryMb * 3 / 4) + "m")
        .config("spark.worker.resource.gpu.amount", "1")
        .config("spark.worker.resource.gpu.discoveryScript", discovery.toString())
        .config("spark.executor.resource.gpu.amount", "1")
        .config("spark.executor.resource.gpu.discoveryScript", discovery.toString())
        .config("spark.speculation", "false")
        .getOrCreate();
    awaitExecutors(session, workers);
    return session;
  }

  /**
   * A barrier job submitted before its executors register fails Spark's slot check and is only
   * tried again 15 s later (spark.scheduler.barrier.maxConcurrentTasksCheck.interval): wait for them.
   */
  private static void awaitExecutors(SparkSession session, int workers) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    // The driver is listed among the executors too.
    while (session.sparkContext().statusTracker().getExecutorInfos().length < workers + 1) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the executors of " + workers + " workers did not "
            + "register within a minute");
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for executors", e);
      }
    }
  }
}
