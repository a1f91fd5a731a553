package io.mobaspark.trainer.exchange;

import java.util.List;

/**
 * Data-parallel gradient averaging between the ranks of one training run (docs/exchange.md). Every
 * rank calls {@link #allReduceMean} once per optimizer step with buffers of the same sizes in the same
 * order; when it returns, every rank holds the same values, bit for bit.
 */
public interface GradientExchange extends AutoCloseable {

  /** This rank, in {@code [0, worldSize)}. */
  int rank();

  int worldSize();

  /**
   * Replaces every element of {@code buffers} by its mean over all ranks, rounded to the wire dtype
   * (so that all ranks agree exactly). The buffers are seen as one flat array, cut into buckets that
   * may span buffer boundaries. They are floats: the wire carries fp32 at most, and a GPU's fp32
   * gradients then reach the host without being widened.
   *
   * @param step the optimizer step, checked against every peer's
   * @throws ExchangeException when a peer fails, times out, is refused or disagrees on step or sizes;
   *     the exchange is unusable afterwards
   */
  void allReduceMean(int step, List<float[]> buffers);

  /** Closes the connections; never throws. */
  @Override
  void close();
}
