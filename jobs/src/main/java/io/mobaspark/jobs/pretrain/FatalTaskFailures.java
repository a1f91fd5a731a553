package io.mobaspark.jobs.pretrain;

import io.mobaspark.jobs.UserErrors;
import io.mobaspark.trainer.loop.TrainingDivergedException;
import java.util.Optional;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Spark retries a failed barrier stage whatever the cause; a retry helps after a lost executor or a
 * dropped connection, but a bad config value, a damaged shard or a diverged step would fail the same
 * way each time, after resuming from the checkpoint and repeating the steps since. This listener
 * cancels the training job at the first task failure of such a kind and keeps it to report.
 */
final class FatalTaskFailures extends SparkListener implements AutoCloseable {
  private final SparkContext context;
  private final String jobGroup;
  private volatile ExceptionFailure first;

  private FatalTaskFailures(SparkContext context, String jobGroup) {
    this.context = context;
    this.jobGroup = jobGroup;
  }

  /** Watches the tasks of {@code jobGroup} (whose jobs were started with that group) until closed. */
  static FatalTaskFailures watch(SparkContext context, String jobGroup) {
    FatalTaskFailures watcher = new FatalTaskFailures(context, jobGroup);
    context.addSparkListener(watcher);
    return watcher;
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    if (first == null && taskEnd.reason() instanceof ExceptionFailure failure
        && notRetried(failure.className())) {
      first = failure;
      context.cancelJobGroup(jobGroup, "a training task failed in a way a retry would repeat");
    }
  }

  /** Bad input ({@link UserErrors}) or a diverged step: the next attempt would fail alike. */
  private static boolean notRetried(String className) {
    return UserErrors.isClassName(className)
        || className.equals(TrainingDivergedException.class.getName());
  }

  /**
   * The exception to report for the failure that stopped the job, if one did: an
   * {@link IllegalArgumentException} (bad input, reported as such) with the task's message, or an
   * {@link IllegalStateException} naming the task's exception class.
   */
  Optional<RuntimeException> failure() {
    ExceptionFailure f = first;
    if (f == null) {
      return Optional.empty();
    }
    if (f.className().equals(IllegalArgumentException.class.getName())) {
      return Optional.of(new IllegalArgumentException(f.description()));
    }
    return Optional.of(new IllegalStateException("a training task failed (not retried: it would "
        + "fail the same way): " + f.className() + ": " + f.description()));
  }

  @Override
  public void close() {
    context.removeSparkListener(this);
  }
}
