package io.mobaspark.kernels.cuda;

/**
 * Runs every release step of a close even when an earlier one fails, then throws the first failure
 * with the later ones suppressed. A CUDA error is sticky: once a kernel faults, every later call in
 * that context fails too, and a close that stopped at its first failed call would keep the primary
 * context retained, so that a retried Spark task on the same executor found the broken context
 * again instead of a fresh one.
 */
final class CloseAll {
  private CloseAll() {}

  /** A release step; may throw. */
  @FunctionalInterface
  interface Step {
    void run();
  }

  static void run(Step... steps) {
    RuntimeException first = null;
    for (Step step : steps) {
      try {
        step.run();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
