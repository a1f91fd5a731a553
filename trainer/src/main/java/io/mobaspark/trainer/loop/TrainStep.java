package io.mobaspark.trainer.loop;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.trainer.Parameter;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.exchange.DeviceGradients;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.LocalExchange;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.GradientClipping;
import io.mobaspark.trainer.optim.LrSchedule;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * One optimizer step: accumulate gradients over the micro-batches, average them (and the loss) over
 * the data-parallel ranks, refuse non-finite values, clip the global norm, update with AdamW at the
 * scheduled rate. The order matters: the exchange comes before the finite check, so that a NaN on
 * one rank makes every rank refuse the same step; the finite check comes before clipping (a NaN norm
 * would otherwise silently scale everything to NaN) and before the update (so a refused step leaves
 * weights and moments untouched). With several ranks the gradients of the last micro-batch travel
 * group by group while its backward still runs ({@link OverlappedGradientAverage}); close the step
 * to end its sender thread.
 */
public final class TrainStep implements AutoCloseable {
  private final Backend backend;
  private final TrainableModel model;
  private final List<Parameter> parameters;
  private final List<Tensor> grads;
  private final AdamW optimizer;
  private final LrSchedule schedule;
  private final double gradClip;
  private final GradientExchange exchange;
  /** Null for one rank. */
  private final GradientAverage average;

  /**
   * What one step did, for metrics; the loss is the mean over all ranks. {@code exchangeWaitMillis}
   * is how long the step waited for the gradient average after its last backward (NaN for one rank,
   * which exchanges nothing): the part of the exchange that the backward did not hide.
   */
  public record Result(double loss, double lr, double gradNorm, boolean clipped,
      double exchangeWaitMillis) {}

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
    this.grads = parameters.stream().map(Parameter::grad).toList();
    this.optimizer = optimizer;
    this.schedule = schedule;
    this.gradClip = gradClip;
    this.exchange = exchange;
    this.average = exchange.worldSize() == 1 ? null
        : exchange instanceof DeviceGradients device
            ? new DeviceGradientAverage(device, grads)
            : new OverlappedGradientAverage(backend, exchange, model.gradientGroups());
  }

  /** How the step averages over the ranks (null for one rank), for tests. */
  GradientAverage average() {
    return average;
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
    backend.zeroAll(grads);
    double gradScale = 1.0 / microBatches.size();
    if (average != null) {
      average.begin(step);
    }
    IntConsumer notSent = group -> {};
    double lossSum = 0;
    String badLoss = null;
    for (int i = 0; i < microBatches.size() && badLoss == null; i++) {
      TokenBatch batch = microBatches.get(i);
      boolean last = i == microBatches.size() - 1;
      double loss = model.forwardBackward(batch.inputs(), batch.targets(), batch.layout(), gradScale,
          last && average != null ? average::groupDone : notSent);
      if (!Double.isFinite(loss)) {
        badLoss = "the loss of micro-batch " + (i + 1) + "/" + microBatches.size() + " (" + loss
            + "; first non-finite activation: " + model.locateNonFinite() + ")";
      }
      lossSum += loss;
    }
    double meanLoss = lossSum / microBatches.size();
    long waitStart = System.nanoTime();
    if (average != null) {
      // A rank with a bad loss still takes part, so that the others are not left waiting: its NaN
      // or infinite loss makes the mean non-finite and every rank refuses this step.
      meanLoss = average.finish(meanLoss);
    }
    double exchangeWaitMillis =
        average == null ? Double.NaN : (System.nanoTime() - waitStart) / 1e6;
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
    // Clipping rides on the update: the gradients are scaled inside AdamW's one pass.
    double clipFactor = GradientClipping.factor(norm, gradClip);
    double lr = schedule.at(step);
    optimizer.step(lr, step, clipFactor);
    boolean clipped = clipFactor != 1.0;
    return new Result(meanLoss, lr, norm, clipped, exchangeWaitMillis);
  }

  /** Ends the sender thread (a step that failed may leave one exchange call to time out). */
  @Override
  public void close() {
    if (average != null) {
      average.close();
    }
  }
}
