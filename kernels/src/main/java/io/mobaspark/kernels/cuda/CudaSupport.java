package io.mobaspark.kernels.cuda;

import io.mobaspark.kernels.AttentionConfig;
import java.util.Optional;

/**
 * What the CUDA backend can run, asked before one is built: {@code run.backend = auto} takes the CPU
 * for a model whose attention the CUDA kernels refuse (the demo model's head_dim 32, say) instead of
 * failing at its first forward pass.
 */
public final class CudaSupport {
  private CudaSupport() {}

  /** Why the CUDA attention kernels cannot run {@code config}, or empty when they can. */
  public static Optional<String> attentionProblem(AttentionConfig config) {
    return Optional.ofNullable(MobaChecks.configProblem(config));
  }
}
