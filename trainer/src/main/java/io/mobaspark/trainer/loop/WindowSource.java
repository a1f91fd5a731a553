package io.mobaspark.trainer.loop;

/**
 * A resumable stream of token windows: what the loop needs of the data module's sampler, so that the
 * loop can be tested with synthetic data.
 */
public interface WindowSource {

  /** The next micro-batch: {@code [batch, windowTokens]} row-major. */
  int[] next();

  /** An opaque position that {@link #seek} returns to; checkpoints record it. */
  long cursor();

  void seek(long cursor);

  /**
   * Windows in one pass over this rank's data, so that the loop can say how often a run repeats it;
   * 0 for a source without an end (synthetic data).
   */
  default long windowsPerPass() {
    return 0;
  }
}
