package io.mobaspark.jobs;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * A console line per finished task of a job with many tasks ("7/16 tasks done, ETA 41 s"), so a
 * long preprocessing run is never silent. Register it around one job; it counts the result tasks
 * (those of the job's last stage).
 */
public final class TaskProgress extends SparkListener implements AutoCloseable {
  private final SparkContext context;
  private final PrintStream console;
  private final String label;
  private final int totalTasks;
  private final long startNanos = System.nanoTime();
  private final AtomicInteger done = new AtomicInteger();

  private TaskProgress(SparkContext context, PrintStream console, String label, int totalTasks) {
    this.context = context;
    this.console = console;
    this.label = label;
    this.totalTasks = totalTasks;
  }

  /** Starts reporting on {@code context}; close to stop. */
  public static TaskProgress start(SparkContext context, PrintStream console, String label,
      int totalTasks) {
    TaskProgress progress = new TaskProgress(context, console, label, totalTasks);
    context.addSparkListener(progress);
    return progress;
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    // Shuffle-map tasks before the job's last stage are not what the total counts.
    if (!"ResultTask".equals(taskEnd.taskType())) {
      return;
    }
    int n = done.incrementAndGet();
    double elapsed = (System.nanoTime() - startNanos) / 1e9;
    double eta = n >= totalTasks ? 0 : elapsed / n * (totalTasks - n);
    console.printf(Locale.ROOT, "[%s] %d/%d tasks done, %.1f s elapsed, ETA %.0f s%n", label,
        Math.min(n, totalTasks), totalTasks, elapsed, eta);
  }

  @Override
  public void close() {
    context.removeSparkListener(this);
  }
}
