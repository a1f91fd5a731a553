package io.mobaspark.jobs.pretrain;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Backends;
import io.mobaspark.trainer.config.RunSettings;
import java.util.Optional;

/**
 * The compute backend of one training task: {@code run.backend} chosen as everywhere else
 * ({@link Backends}), on the GPU Spark assigned the task, with the task's CPU cores.
 */
final class RankBackends {
  private RankBackends() {}

  /**
   * @param gpu      the task's GPU address from Spark's resources (a CUDA ordinal), if any
   * @param taskCpus the task's cores: the CPU backend's threads when {@code run.threads = 0}, so
   *                 that ranks sharing a host do not oversubscribe it
   */
  static Backend create(RunSettings run, Optional<String> gpu, int taskCpus) {
    int threads = run.threads() > 0 ? run.threads() : Math.max(1, taskCpus);
    if (gpu.isEmpty()) {
      return Backends.create(run.backend(), threads);
    }
    int ordinal;
    try {
      ordinal = Integer.parseInt(gpu.get().trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("the GPU address Spark gave this task, '" + gpu.get()
          + "', is not a CUDA device ordinal: the discovery script "
          + "(spark.executor.resource.gpu.discoveryScript) must list ordinals such as \"0\"");
    }
    // Backends reads the device ordinal from a JVM-wide system property (it has no device
    // argument), and the tasks of one executor share the JVM: set it and create under one lock.
    synchronized (RankBackends.class) {
      String before = System.getProperty(Backends.DEVICE_PROPERTY);
      System.setProperty(Backends.DEVICE_PROPERTY, Integer.toString(ordinal));
      try {
        return Backends.create(run.backend(), threads);
      } finally {
        if (before == null) {
          System.clearProperty(Backends.DEVICE_PROPERTY);
        } else {
          System.setProperty(Backends.DEVICE_PROPERTY, before);
        }
      }
    }
  }
}
