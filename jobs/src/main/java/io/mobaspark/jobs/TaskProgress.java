package io.mobaspark.jobs;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.util.LongAccumulator;
import scala.jdk.javaapi.CollectionConverters;

/**
 * A console line per finished unit of a long job ("7/16 partitions packed, ETA 41 s"), so a long
 * preprocessing run is never silent.
 *
 * <p>The work counts itself: each task of interest adds 1 to {@link #counter()} when its unit is
 * done, and only tasks that report such an update count. Counting the job's result tasks instead
 * also counted the extra jobs Spark runs under the same action (adaptive execution materializes a
 * cached table in a job of its own), printing every unit twice.
 */
public final class TaskProgress extends SparkListener implements AutoCloseable {
  private final SparkContext context;
  private final PrintStream console;
  private final String label;
  private final String unit;
  private final int total;
  private final LongAccumulator counter;
  private final long startNanos = System.nanoTime();
  private final AtomicInteger done = new AtomicInteger();

  private TaskProgress(SparkContext context, PrintStream console, String label, String unit,
      int total) {
    this.context = context;
    this.console = console;
    this.label = label;
    this.unit = unit;
    this.total = total;
    this.counter = context.longAccumulator(label + ": " + unit);
  }

  /**
   * Starts reporting on {@code context}; close to stop.
   *
   * @param unit  what a task finishes, plural, e.g. "partitions packed"
   * @param total how many units the job has
   */
  public static TaskProgress start(SparkContext context, PrintStream console, String label,
      String unit, int total) {
    TaskProgress progress = new TaskProgress(context, console, label, unit, total);
    context.addSparkListener(progress);
    return progress;
  }

  /** The accumulator a task adds 1 to per finished unit (serializable into the task closure). */
  public LongAccumulator counter() {
    return counter;
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    long units = 0;
    for (AccumulableInfo info : CollectionConverters.asJava(taskEnd.taskInfo().accumulables())) {
      if (info.id() == counter.id() && info.update().isDefined()) {
        units += ((Number) info.update().get()).longValue();
      }
    }
    if (units == 0) {
      return;
    }
    int n = done.addAndGet((int) units);
    double elapsed = (System.nanoTime() - startNanos) / 1e9;
    double eta = n >= total ? 0 : elapsed / n * (total - n);
    console.printf(Locale.ROOT, "[%s] %d/%d %s, %.1f s elapsed, ETA %.0f s%n", label,
        Math.min(n, total), total, unit, elapsed, eta);
  }

  /**
   * Stops reporting. Spark posts task events to listeners asynchronously, so when the job has
   * returned the counter may already hold units whose lines are not printed yet: wait briefly for
   * them, so the last line is never lost.
   */
  @Override
  public void close() {
    long deadline = System.nanoTime() + 2_000_000_000L;
    try {
      while (done.get() < counter.value() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      context.removeSparkListener(this);
    }
  }
}
