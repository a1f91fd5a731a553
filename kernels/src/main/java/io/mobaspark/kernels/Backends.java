package io.mobaspark.kernels;

import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaDevice;
import java.util.Locale;
import java.util.Optional;

/**
 * The one place that chooses a compute backend: config key {@code run.backend} or the system property
 * {@code mobaspark.backend}, values {@code auto | cpu | cuda}. {@code auto} prints one line to
 * standard error saying what it picked and why ({@link #auto}).
 */
public final class Backends {
  /** System property that overrides the configured backend, e.g. {@code -Dmobaspark.backend=cpu}. */
  public static final String PROPERTY = "mobaspark.backend";

  /** System property: the CUDA device ordinal of the {@code cuda} backend (default 0). */
  public static final String DEVICE_PROPERTY = "mobaspark.cuda.device";

  private Backends() {}

  /**
   * Creates the backend named by {@code kind} (the {@value #PROPERTY} property wins when set), a
   * CUDA one on the device {@value #DEVICE_PROPERTY} names (default 0).
   *
   * @param threads CPU worker threads; 0 means every available core
   */
  public static Backend create(String kind, int threads) {
    return create(kind, threads, Optional.empty());
  }

  /**
   * As {@link #create(String, int)} for a model the CUDA backend may not run (see {@link
   * #create(String, int, int, Optional)}).
   */
  public static Backend create(String kind, int threads, Optional<String> cudaProblem) {
    return create(kind, threads, Integer.getInteger(DEVICE_PROPERTY, 0), cudaProblem);
  }

  /**
   * As {@link #create(String, int)}, a CUDA backend on device {@code cudaDevice} (a Spark task
   * passes the GPU it was assigned, since the tasks of one executor JVM may hold different GPUs),
   * for a model the CUDA backend may not run: {@code cudaProblem} says why not ({@code
   * io.mobaspark.kernels.cuda.CudaSupport}), and then {@code auto} takes the CPU and {@code cuda} is
   * refused with that reason.
   */
  public static Backend create(String kind, int threads, int cudaDevice,
      Optional<String> cudaProblem) {
    if (cudaDevice < 0) {
      throw new IllegalArgumentException("the CUDA device ordinal must be >= 0, got " + cudaDevice);
    }
    String chosen = System.getProperty(PROPERTY, kind);
    if (threads < 0) {
      throw new IllegalArgumentException("run.threads must be >= 0 (0 = all cores), got " + threads);
    }
    int workers = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    return switch (chosen == null ? "" : chosen.trim().toLowerCase(Locale.ROOT)) {
      case "cpu" -> new CpuBackend(Precision.FLOAT32, workers);
      case "auto" -> {
        AutoChoice choice = auto(CudaDevice.available(), cudaProblem);
        System.err.println("backend auto -> " + choice.backend() + ": " + choice.reason());
        yield choice.backend().equals("cuda") ? new CudaBackend(cudaDevice)
            : new CpuBackend(Precision.FLOAT32, workers);
      }
      case "cuda" -> {
        if (!CudaDevice.available()) {
          throw new IllegalArgumentException("run.backend = cuda, but no CUDA device is usable here"
              + " (no NVIDIA driver, or no GPU visible to this process); use cpu, or auto to fall"
              + " back to the CPU when there is no GPU");
        }
        if (cudaProblem.isPresent()) {
          throw new IllegalArgumentException("run.backend = cuda, but the CUDA backend cannot run "
              + "this model: " + cudaProblem.get() + "; use cpu, or auto to take the CPU then");
        }
        yield new CudaBackend(cudaDevice);
      }
      default -> throw new IllegalArgumentException(
          "run.backend must be auto, cpu or cuda, got '" + chosen + "'");
    };
  }

  /** What {@code auto} picks ({@code cpu} or {@code cuda}) and the one line that says why. */
  public record AutoChoice(String backend, String reason) {}

  /** {@code auto}'s rule: the CUDA backend when a device is usable, else the CPU backend. */
  public static AutoChoice auto(boolean deviceUsable) {
    return auto(deviceUsable, Optional.empty());
  }

  /**
   * {@code auto}'s rule for a model: the CUDA backend when a device is usable and the CUDA kernels
   * can run the model ({@code cudaProblem} empty), else the CPU backend.
   */
  public static AutoChoice auto(boolean deviceUsable, Optional<String> cudaProblem) {
    if (!deviceUsable) {
      return new AutoChoice("cpu", "no CUDA device is usable here");
    }
    if (cudaProblem.isPresent()) {
      return new AutoChoice("cpu", "a CUDA device is usable, but the CUDA backend cannot run this "
          + "model: " + cudaProblem.get());
    }
    return new AutoChoice("cuda", "a CUDA device is usable");
  }
}
