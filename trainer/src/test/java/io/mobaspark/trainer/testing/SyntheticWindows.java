package io.mobaspark.trainer.testing;

import io.mobaspark.trainer.loop.WindowSource;

/**
 * Deterministic token windows: the tokens of window number {@code c} are a hash of {@code c}, so any
 * cursor can be re-visited, as the data module's sampler allows. Can be told to fail, to simulate a
 * crash in the middle of a run.
 */
public final class SyntheticWindows implements WindowSource {
  private final int batchSize;
  private final int windowTokens;
  private final int vocab;
  private long cursor;
  private long windowsPerPass;
  private int failOnCall = -1;
  private int calls;

  public SyntheticWindows(int batchSize, int windowTokens, int vocab) {
    this.batchSize = batchSize;
    this.windowTokens = windowTokens;
    this.vocab = vocab;
  }

  /** Makes the source report passes of {@code windows} windows, as a finite dataset does. */
  public SyntheticWindows withPassOf(long windows) {
    windowsPerPass = windows;
    return this;
  }

  /** Makes the {@code call}-th {@link #next} (0-based, counted from now) throw. */
  public void failOnCall(int call) {
    failOnCall = call;
    calls = 0;
  }

  @Override
  public int[] next() {
    if (calls++ == failOnCall) {
      throw new IllegalStateException("simulated crash");
    }
    int[] tokens = new int[batchSize * windowTokens];
    for (int b = 0; b < batchSize; b++) {
      for (int t = 0; t < windowTokens; t++) {
        long h = (cursor + b) * 0x9E3779B97F4A7C15L + t * 0xBF58476D1CE4E5B9L;
        h ^= h >>> 31;
        tokens[b * windowTokens + t] = (int) Math.floorMod(h * 0x94D049BB133111EBL, (long) vocab);
      }
    }
    cursor += batchSize;
    return tokens;
  }

  @Override
  public long cursor() {
    return cursor;
  }

  @Override
  public void seek(long cursor) {
    this.cursor = cursor;
  }

  @Override
  public long windowsPerPass() {
    return windowsPerPass;
  }
}
