package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Backend;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.GradientClipping;
import io.mobaspark.trainer.optim.LrSchedule;
import java.util.ArrayList;
import java.util.List;

/**
 * One optimizer step: accumulate gradients over the micro-batches, average them (and the loss) over
 * the data-parallel ranks, refuse non-finite values, clip the global norm, update with AdamW at the
 * scheduled rate. The order matters: the exchange comes before the finite check, so that a NaN on
 * one rank makes every rank refuse the same step; the finite check comes before clipping (a NaN norm
 * would otherwise silently scale everything to NaN) and before the update (so a refused step leaves
 * weights and moments untouched).
 */
public final class TrainStep {
  private final Backend backend;
  private final TrainableModel model;
  private final List<Parameter> parameters;
  private final AdamW optimizer;
  private final LrSchedule schedule;
  private final double gradClip;
  private final GradientExchange exchange;

  /** What one step did, for metrics; the loss is the mean over all ranks. */
  public record Result(double loss, double lr, double gradNorm, boolean clipped) {}

  /** A single-process step ({@link LocalExchange}). */
  public TrainStep(Backend backend, TrainableModel model, AdamW optimizer, LrSchedule schedule,
      double gradClip) {
    this(backend, model, optimizer, schedule, gradClip, new LocalExchange());
  }

  /**
   * A data-parallel step: every rank runs it with its own micro-batches and the same exchange. The
   * caller owns (and closes) {@code exchange}.
   */
  public TrainStep(Backend backend, TrainableModel model, AdamW optimizer, LrSchedule schedule,
      double gradClip, GradientExchange exchange) {
    if (exchange == null) {
      throw new IllegalArgumentException("exchange must be given (LocalExchange for one rank)");
    }
    this.backend = backend;
    this.model = model;
    this.parameters = model.parameters();
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.gradClip = gradClip;
    this.exchange = exchange;
  }

  /**
   * Runs 1-based optimizer step {@code step} on {@code microBatches}; the loss is their mean,
   * averaged over the ranks.
   *
   * @throws TrainingDivergedException when a loss or gradient is not finite, on this rank or (after
   *     averaging) on any (nothing is updated)
   * @throws io.mobaspark.trainer.exchange.ExchangeException when the exchange fails
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
    String badLoss = null;
    for (int i = 0; i < microBatches.size() && badLoss == null; i++) {
      TokenBatch batch = microBatches.get(i);
      double loss = model.forwardBackward(batch.inputs(), batch.targets(), batch.layout(), gradScale);
      if (!Double.isFinite(loss)) {
        badLoss = "the loss of micro-batch " + (i + 1) + "/" + microBatches.size() + " (" + loss
            + "; first non-finite activation: " + model.locateNonFinite() + ")";
      }
      lossSum += loss;
    }
    double meanLoss = lossSum / microBatches.size();
    if (exchange.worldSize() > 1) {
      // A rank with a bad loss still takes part, so that the others are not left waiting: its NaN
      // or infinite loss makes the mean non-finite and every rank refuses this step.
      meanLoss = averageAcrossRanks(step, meanLoss);
    }
    if (badLoss != null) {
      throw new TrainingDivergedException(step, badLoss);
    }
    if (!Double.isFinite(meanLoss)) {
      throw new TrainingDivergedException(step, "the loss averaged over " + exchange.worldSize()
          + " ranks (" + meanLoss + ")");
    }
    // One device round trip for every gradient: a NaN or infinity in a gradient makes its sum of
    // squares non-finite, and only then is that tensor searched to tell it from an overflow.
    double[] sums = GradientClipping.sumsOfSquares(backend, parameters);
    for (int i = 0; i < sums.length; i++) {
      Parameter p = parameters.get(i);
      if (!Double.isFinite(sums[i]) && !backend.allFinite(p.grad())) {
        throw new TrainingDivergedException(step, "the gradient of parameter '" + p.name() + "'");
      }
    }
    double norm = GradientClipping.norm(sums);
    if (!Double.isFinite(norm)) {
      // Every gradient is finite but their squares overflow: clipping would zero them all.
      throw new TrainingDivergedException(step, "the global gradient norm (" + norm + ")");
    }
    boolean clipped = GradientClipping.clip(backend, parameters, norm, gradClip);
    double lr = schedule.at(step);
    optimizer.step(lr, step);
    return new Result(meanLoss, lr, norm, clipped);
  }

  /**
   * Replaces every gradient by its mean over the ranks; the loss rides along as one more element
   * (the wire rounds it to fp32 or bf16 like the gradients). Gradients go through host memory as
   * floats for now (one read and one write per parameter; no widening of a GPU's fp32 gradients).
   */
  private double averageAcrossRanks(int step, double loss) {
    List<float[]> buffers = new ArrayList<>(parameters.size() + 1);
    for (Parameter p : parameters) {
      buffers.add(backend.readFloats(p.grad()));
    }
    buffers.add(new float[] {(float) loss});
    exchange.allReduceMean(step, buffers);
    for (int i = 0; i < parameters.size(); i++) {
      backend.write(parameters.get(i).grad(), buffers.get(i));
    }
    return buffers.get(parameters.size())[0];
  }
}
