package io.mobaspark.trainer.optim;

import io.mobaspark.trainer.config.TrainSettings;

/**
 * Linear warmup to the peak rate, then a half cosine down to {@code minLr} at {@code maxSteps}
 * (the GPT-3 / nanoGPT schedule). Steps are 1-based optimizer steps: step {@code warmupSteps}
 * trains at the peak, step {@code maxSteps} at {@code minLr}; later steps stay at {@code minLr}.
 */
public record LrSchedule(double peakLr, double minLr, int warmupSteps, int maxSteps) {

  public LrSchedule {
    if (!(peakLr > 0) || !Double.isFinite(peakLr)) {
      throw new IllegalArgumentException("peak learning rate must be positive, got " + peakLr);
    }
    if (!(minLr >= 0) || minLr > peakLr) {
      throw new IllegalArgumentException(
          "min_lr must be in [0, lr = " + peakLr + "], got " + minLr);
    }
    if (maxSteps < 1 || warmupSteps < 0 || warmupSteps > maxSteps) {
      throw new IllegalArgumentException("need 0 <= warmup_steps <= max_steps and max_steps >= 1, got "
          + "warmup_steps=" + warmupSteps + " max_steps=" + maxSteps);
    }
  }

  public static LrSchedule of(TrainSettings train) {
    return new LrSchedule(train.lr(), train.minLr(), train.warmupSteps(), train.maxSteps());
  }

  /** The learning rate of 1-based optimizer step {@code step}. */
  public double at(int step) {
    if (step < 1) {
      throw new IllegalArgumentException("optimizer steps are 1-based, got " + step);
    }
    if (step <= warmupSteps) {
      return peakLr * step / warmupSteps;
    }
    int decaySteps = maxSteps - warmupSteps;
    double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
    return minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (peakLr - minLr);
  }
}
