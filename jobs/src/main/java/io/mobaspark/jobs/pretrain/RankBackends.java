package io.mobaspark.jobs.pretrain;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Backends;
import java.util.Optional;

/**
 * The compute backend of one training task: {@code run.backend} chosen as everywhere else
 * ({@link Backends}), on the GPU Spark assigned the task.
 */
final class RankBackends {
  private RankBackends() {}

  /**
   * @param gpu     the task's GPU address from Spark's resources (a CUDA ordinal), if any
   * @param threads the CPU backend's worker threads, >= 1
   * @param cudaProblem why the CUDA backend cannot run the model, if it cannot ({@code
   *     ModelConfig.cudaProblem}): {@code auto} then takes the CPU
   */
  static Backend create(String backend, Optional<String> gpu, int threads,
      Optional<String> cudaProblem) {
    if (gpu.isEmpty()) {
      return Backends.create(backend, threads, cudaProblem);
    }
    int ordinal;
    try {
      ordinal = Integer.parseInt(gpu.get().trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("the GPU address Spark gave this task, '" + gpu.get()
          + "', is not a CUDA device ordinal: the discovery script "
          + "(spark.executor.resource.gpu.discoveryScript) must list ordinals such as \"0\"");
    }
    return Backends.create(backend, threads, ordinal, cudaProblem);
  }
}
