package io.mobaspark.trainer.exchange;

import java.util.List;

/** The exchange of a single-process run: the mean over one rank is the rank's own value. */
public final class LocalExchange implements GradientExchange {

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int worldSize() {
    return 1;
  }

  @Override
  public void allReduceMean(int step, List<float[]> buffers) {
    // Deliberately untouched: not even rounded to a wire dtype, so one rank trains bit for bit as
    // it did before the exchange existed.
  }

  @Override
  public void close() {}
}
