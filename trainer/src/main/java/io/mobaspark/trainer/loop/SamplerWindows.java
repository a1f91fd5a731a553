package io.mobaspark.trainer.loop;

import io.mobaspark.data.WindowSampler;

/** The data module's sampler seen as a {@link WindowSource}. */
public final class SamplerWindows implements WindowSource {
  private final WindowSampler sampler;

  public SamplerWindows(WindowSampler sampler) {
    if (sampler == null) {
      throw new IllegalArgumentException("sampler must be given");
    }
    this.sampler = sampler;
  }

  @Override
  public int[] next() {
    return sampler.next();
  }

  @Override
  public long cursor() {
    return sampler.cursor();
  }

  @Override
  public void seek(long cursor) {
    sampler.seek(cursor);
  }

  @Override
  public long windowsPerPass() {
    return sampler.windowsPerEpoch();
  }
}
