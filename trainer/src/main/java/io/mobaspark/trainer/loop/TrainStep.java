package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.GradientClipping;
import io.mobaspark.trainer.optim.LrSchedule;
import java.util.List;

/**
 * One optimizer step: accumulate gradients over the micro-batches, refuse non-finite values, clip the
 * global norm, update with AdamW at the scheduled rate. The order matters: the finite check comes
 * before clipping (a NaN norm would otherwise silently scale everything to NaN) and before the update
 * (so a refused step leaves weights and moments untouched).
 */
public final class TrainStep {
  private final Backend backend;
  private final TrainableModel model;
  private final List<Parameter> parameters;
  private final AdamW optimizer;
  private final LrSchedule schedule;
  private final double gradClip;

  /** What one step did, for metrics. */
  public record Result(double loss, double lr, double gradNorm, boolean clipped) {}

  public TrainStep(Backend backend, TrainableModel model, AdamW optimizer, LrSchedule schedule,
      double gradClip) {
    this.backend = backend;
    this.model = model;
    this.parameters = model.parameters();
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.gradClip = gradClip;
  }

  /**
   * Runs 1-based optimizer step {@code step} on {@code microBatches}; the loss is their mean.
   *
   * @throws TrainingDivergedException when a loss or gradient is not finite (nothing is updated)
   */
  public Result run(int step, List<TokenBatch> microBatches) {
    if (microBatches.isEmpty()) {
      throw new IllegalArgumentException("step " + step + " needs at least one micro-batch");
    }
    for (Parameter p : parameters) {
      backend.zero(p.grad());
    }
    double gradScale = 1.0 / microBatches.size();
    double lossSum = 0;
    for (int i = 0; i < microBatches.size(); i++) {
      TokenBatch batch = microBatches.get(i);
      double loss = model.forwardBackward(batch.inputs(), batch.targets(), batch.layout(), gradScale);
      if (!Double.isFinite(loss)) {
        throw new TrainingDivergedException(step,
            "the loss of micro-batch " + (i + 1) + "/" + microBatches.size() + " (" + loss + ")");
      }
      lossSum += loss;
    }
    for (Parameter p : parameters) {
      if (!backend.allFinite(p.grad())) {
        throw new TrainingDivergedException(step, "the gradient of parameter '" + p.name() + "'");
      }
    }
    double norm = GradientClipping.globalNorm(backend, parameters);
    if (!Double.isFinite(norm)) {
      // Every gradient is finite but their squares overflow: clipping would zero them all.
      throw new TrainingDivergedException(step, "the global gradient norm (" + norm + ")");
    }
    boolean clipped = GradientClipping.clip(backend, parameters, norm, gradClip);
    double lr = schedule.at(step);
    optimizer.step(lr, step);
    return new Result(lossSum / microBatches.size(), lr, norm, clipped);
  }
}
