package io.mobaspark.trainer.exchange;

import java.util.List;

/**
 * What the two network exchanges share: the rank's identity, and the rule that a failed exchange
 * stays failed. After a timeout or a dropped peer the streams are at an unknown point of a frame, so
 * no later step could be trusted; every later call repeats the first error instead.
 */
abstract class NetworkExchange implements GradientExchange {
  protected final ExchangeSpec spec;
  protected final int rank;
  /** "rank 3", the start of every message this rank writes. */
  protected final String self;
  private ExchangeException failure;

  NetworkExchange(ExchangeSpec spec, int rank) {
    this.spec = spec;
    this.rank = rank;
    this.self = "rank " + rank;
  }

  @Override
  public final int rank() {
    return rank;
  }

  @Override
  public final int worldSize() {
    return spec.worldSize();
  }

  @Override
  public final void allReduceMean(int step, List<float[]> buffers) {
    if (failure != null) {
      throw new ExchangeException(self + ": the exchange failed earlier: " + failure.getMessage(),
          failure);
    }
    FlatBuffers flat = new FlatBuffers(buffers);
    try {
      exchange(step, flat, flat.bucketCount(spec.bucketElements()));
    } catch (ExchangeException e) {
      failure = e;
      close();
      throw e;
    }
  }

  /** Replaces the {@code buckets} buckets of {@code flat} by their means over the ranks. */
  abstract void exchange(int step, FlatBuffers flat, int buckets);
}
