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
}
