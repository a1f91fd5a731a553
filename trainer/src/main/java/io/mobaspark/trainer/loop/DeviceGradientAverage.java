package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.exchange.DeviceGradients;
import java.util.List;

/**
 * The gradient average of a step whose exchange works in device memory (the {@code shared} kind
 * on GPUs, docs/exchange.md): after the backward, all gradients and the loss are averaged at once
 * where they are, without a copy to the host. Nothing is sent during the backward: on one host the
 * whole average takes about 1-2 ms for 50M parameters (docs/perf/exchange.md), less than what
 * starting it early would hide.
 */
final class DeviceGradientAverage implements GradientAverage {
  private final DeviceGradients exchange;
  private final List<Tensor> grads;
  private int step;

  DeviceGradientAverage(DeviceGradients exchange, List<Tensor> grads) {
    this.exchange = exchange;
    this.grads = grads;
  }

  @Override
  public void begin(int step) {
    this.step = step;
  }

  @Override
  public void groupDone(int group) {
    // Averaged all at once in finish.
  }

  @Override
  public double finish(double loss) {
    return exchange.allReduceMean(step, grads, loss);
  }

  @Override
  public void close() {}
}
