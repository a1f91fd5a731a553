package io.mobaspark.kernels;

import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaDevice;
import java.util.Locale;

/**
 * The one place that chooses a compute backend: config key {@code run.backend} or the system property
 * {@code mobaspark.backend}, values {@code auto | cpu | cuda}.
 */
public final class Backends {
  /** System property that overrides the configured backend, e.g. {@code -Dmobaspark.backend=cpu}. */
  public static final String PROPERTY = "mobaspark.backend";

  /** System property: the CUDA device ordinal of the {@code cuda} backend (default 0). */
  public static final String DEVICE_PROPERTY = "mobaspark.cuda.device";

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
      case "cpu" -> new CpuBackend(Precision.FLOAT32, workers);
      case "auto" -> CudaDevice.available() ? cuda() : new CpuBackend(Precision.FLOAT32, workers);
      case "cuda" -> {
        if (!CudaDevice.available()) {
          throw new IllegalArgumentException("run.backend = cuda, but no CUDA device is usable here"
              + " (no NVIDIA driver, or no GPU visible to this process); use cpu, or auto to fall"
              + " back to the CPU when there is no GPU");
        }
        yield cuda();
      }
      default -> throw new IllegalArgumentException(
          "run.backend must be auto, cpu or cuda, got '" + chosen + "'");
    };
  }

  private static Backend cuda() {
    return new CudaBackend(Integer.getInteger(DEVICE_PROPERTY, 0));
  }
}
