package io.mobaspark.jobs.pretrain;

import java.util.List;
import java.util.Optional;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * What one task of a barrier stage knows about itself: its rank, the world size, the GPU Spark
 * assigned it (if GPUs are scheduled), and a one-time all-gather for the rendezvous.
 */
public final class RankContext {
  private final BarrierTaskContext context;

  RankContext(BarrierTaskContext context) {
    this.context = context;
  }

  public int rank() {
    return context.partitionId();
  }

  public int worldSize() {
    return context.getTaskInfos().length;
  }

  /** The address of the GPU Spark gave this task (e.g. "3"), when the stage asked for GPUs. */
  public Optional<String> gpu() {
    ResourceInformation gpus = context.resourcesJMap().get("gpu");
    if (gpus == null || gpus.addresses().length == 0) {
      return Optional.empty();
    }
    return Optional.of(gpus.addresses()[0]);
  }

  /** The CPU cores Spark gave this task ({@code spark.task.cpus}, or the stage's profile). */
  public int cpus() {
    return context.cpus();
  }

  /** The host Spark runs this task on, as the other tasks can reach it. */
  public String host() {
    return context.getTaskInfos()[rank()].address().replaceAll(":\\d+$", "");
  }

  /**
   * Every task's {@code message}, in rank order. A barrier: every task must call it, and it costs
   * about a second (Spark polls), so call it once per stage, not per step.
   */
  public List<String> allGather(String message) {
    return List.of(context.allGather(message));
  }
}
