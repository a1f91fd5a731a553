package io.mobaspark.trainer.loop;

/**
 * A step produced a non-finite loss or gradient. The update was not applied, so the weights and
 * optimizer state are still those after the previous step; retrying the same step would diverge
 * the same way, so callers should not retry blindly.
 */
public final class TrainingDivergedException extends IllegalStateException {
  private final int step;

  public TrainingDivergedException(int step, String what) {
    super("step " + step + ": " + what + " is not finite (NaN or infinity); the update was not applied");
    this.step = step;
  }

  /** The 1-based optimizer step that diverged. */
  public int step() {
    return step;
  }
}
