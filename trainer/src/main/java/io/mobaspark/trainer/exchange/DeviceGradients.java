package io.mobaspark.trainer.exchange;

import io.mobaspark.kernels.Tensor;
import java.util.List;

/**
 * An exchange that averages gradients where they live, in device memory
 * ({@link DeviceSharedExchange}); the training step hands it the gradient tensors instead of
 * copying them to the host ({@code loop.DeviceGradientAverage}).
 */
public interface DeviceGradients {
  /**
   * Replaces every tensor's values by their mean over the ranks and returns the mean of
   * {@code loss}, the same bits on every rank. Every rank passes tensors of the same sizes in the
   * same order.
   *
   * @throws ExchangeException when a rank fails, leaves or hangs
   * @throws IllegalArgumentException when a tensor is not an fp32 tensor of this device
   */
  double allReduceMean(int step, List<? extends Tensor> gradients, double loss);
}
