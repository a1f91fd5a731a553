package io.mobaspark.trainer.loop;

/**
 * How a data-parallel step averages its gradients and loss over the ranks: through host buffers,
 * group by group during the backward ({@link OverlappedGradientAverage}), or where the gradients
 * live on a GPU ({@link DeviceGradientAverage}).
 */
interface GradientAverage extends AutoCloseable {
  /** Starts step {@code step}. */
  void begin(int step);

  /** Gradient group {@code group} of the last micro-batch is final (groups come in order). */
  void groupDone(int group);

  /**
   * Averages whatever is left and the loss, and leaves every gradient holding its mean.
   *
   * @return the loss averaged over the ranks
   */
  double finish(double loss);

  @Override
  void close();
}
