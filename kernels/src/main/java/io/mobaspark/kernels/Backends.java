package io.mobaspark.kernels;

import io.mobaspark.kernels.cpu.CpuBackend;
import java.util.Locale;

/**
 * The one place that chooses a compute backend: config key {@code run.backend} or the system property
 * {@code mobaspark.backend}, values {@code auto | cpu | cuda}.
 */
public final class Backends {
  /** System property that overrides the configured backend, e.g. {@code -Dmobaspark.backend=cpu}. */
  public static final String PROPERTY = "mobaspark.backend";

  private Backends() {}

  /**
   * Creates the backend named by {@code kind} (the {@value #PROPERTY} property wins when set).
   *
   * @param threads CPU worker threads; 0 means every available core
   */
  public static Backend create(String kind, int threads) {
    String chosen = System.getProperty(PROPERTY, kind);
    if (threads < 0) {
      throw new IllegalArgumentException("run.threads must be >= 0 (0 = all cores), got " + threads);
    }
    int workers = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    return switch (chosen == null ? "" : chosen.trim().toLowerCase(Locale.ROOT)) {
      // The CUDA backend is not part of this build yet, so auto resolves to the CPU reference.
      case "auto", "cpu" -> new CpuBackend(Precision.FLOAT32, workers);
      case "cuda" -> throw new IllegalArgumentException(
          "run.backend = cuda: this build has no CUDA backend yet; use cpu or auto");
      default -> throw new IllegalArgumentException(
          "run.backend must be auto, cpu or cuda, got '" + chosen + "'");
    };
  }
}
