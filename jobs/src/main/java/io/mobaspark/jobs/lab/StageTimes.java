package io.mobaspark.jobs.lab;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.StageInfo;

/**
 * Where a job run's elapsed time went: the wall time of each Spark stage it ran with its tasks' CPU
 * time (Spark's {@code executorCpuTime}), and the time before the first stage was submitted and
 * after the last one completed (the driver's planning, listing, scheduling and manifests). Stages
 * that ran on no task (skipped) are left out.
 */
final class StageTimes extends SparkListener {
  /**
   * Completed stages since the last {@link #describe}: {submitted, completed, tasks, task CPU}, ms.
   */
  private final List<long[]> stages = new ArrayList<>();
  /** Task CPU nanoseconds by stage id, of the stages not yet completed. */
  private final Map<Integer, Long> taskCpu = new HashMap<>();

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
    if (end.taskMetrics() != null) {
      taskCpu.merge(end.stageId(), end.taskMetrics().executorCpuTime(), Long::sum);
    }
  }

  @Override
  public synchronized void onStageCompleted(SparkListenerStageCompleted completed) {
    StageInfo info = completed.stageInfo();
    if (info.submissionTime().isDefined() && info.completionTime().isDefined()) {
      Long cpu = taskCpu.remove(info.stageId());
      stages.add(new long[] {(Long) info.submissionTime().get(),
          (Long) info.completionTime().get(), info.numTasks(), cpu == null ? 0 : cpu / 1_000_000});
    }
  }

  /**
   * One line for the run that started at {@code startMs} and ended at {@code endMs} (epoch ms),
   * e.g. {@code "before 120 ms | 9 tasks 350 ms (CPU 610 ms) | gap 2 ms | 2 tasks 740 ms (CPU 1390
   * ms) | after 40 ms"}; forgets the
   * stages. Call after the listener bus has delivered the run's events.
   */
  synchronized String describe(long startMs, long endMs) {
    stages.sort((a, b) -> Long.compare(a[0], b[0]));
    StringBuilder line = new StringBuilder();
    long last = startMs;
    for (long[] s : stages) {
      line.append(String.format(Locale.ROOT, "%s %d ms | %d tasks %d ms (CPU %d ms)",
          line.length() == 0 ? "before" : " | gap", s[0] - last, s[2], s[1] - s[0], s[3]));
      last = s[1];
    }
    line.append(String.format(Locale.ROOT, " | after %d ms", endMs - last));
    stages.clear();
    return line.toString();
  }
}
