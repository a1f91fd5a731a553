package io.mobaspark.trainer.metrics;

import java.util.Locale;

/**
 * The console progress line, e.g.
 * {@code step  120/5000 | loss 4.1873 | lr 6.00e-04 | 48.2k tok/s | elapsed 0:02:31 | eta 1:42:04}.
 * Throughput and ETA use the steps since the previous line, so they track the current speed rather
 * than an average diluted by start-up.
 */
public final class ProgressLine {
  private ProgressLine() {}

  /**
   * @param secondsPerStep recent wall time per step, for the ETA of the remaining steps
   */
  public static String format(int step, int maxSteps, double loss, double lr, double tokensPerSecond,
      double elapsedSeconds, double secondsPerStep) {
    return format(step, maxSteps, loss, lr, tokensPerSecond, elapsedSeconds, secondsPerStep, 0);
  }

  /**
   * @param budgetSeconds a bound on the run's training time ({@code train.max_minutes}) that ends
   *     it before {@code maxSteps} when it comes first; 0 for none
   */
  public static String format(int step, int maxSteps, double loss, double lr, double tokensPerSecond,
      double elapsedSeconds, double secondsPerStep, double budgetSeconds) {
    int width = Integer.toString(maxSteps).length();
    double eta = Math.max(0, maxSteps - step) * secondsPerStep;
    if (budgetSeconds > 0) {
      eta = Math.min(eta, Math.max(0, budgetSeconds - elapsedSeconds));
    }
    return String.format(Locale.ROOT, "step %" + width + "d/%d | loss %.4f | lr %.2e | %s tok/s"
        + " | elapsed %s | eta %s", step, maxSteps, loss, lr, compact(tokensPerSecond),
        duration(elapsedSeconds), duration(eta));
  }

  /**
   * A data-parallel step's line with the time it waited for the gradient average after its backward
   * appended, e.g. {@code ... | eta 1:42:04 | exchange wait 12 ms}; unchanged when the wait is not
   * finite (one rank, or a metrics line without it).
   */
  public static String withExchangeWait(String line, double exchangeWaitMillis) {
    return Double.isFinite(exchangeWaitMillis)
        ? String.format(Locale.ROOT, "%s | exchange wait %.0f ms", line, exchangeWaitMillis)
        : line;
  }

  /**
   * A line with the passes made over the training data appended, e.g. {@code ... | pass 6.5}, so
   * that a run which repeats a small corpus says so beside its falling training loss; unchanged when
   * the data has no end (passes not finite).
   */
  public static String withPasses(String line, double passes) {
    return Double.isFinite(passes) ? String.format(Locale.ROOT, "%s | pass %.1f", line, passes) : line;
  }

  /** The line printed after an evaluation. */
  public static String eval(int step, int maxSteps, double valLoss) {
    int width = Integer.toString(maxSteps).length();
    return String.format(Locale.ROOT, "eval %" + width + "d/%d | val_loss %.4f", step, maxSteps,
        valLoss);
  }

  /** {@code 950}, {@code 48.2k}, {@code 1.35M}. */
  static String compact(double value) {
    if (!Double.isFinite(value)) {
      return "-";
    }
    if (value >= 1e6) {
      return String.format(Locale.ROOT, "%.2fM", value / 1e6);
    }
    if (value >= 1e3) {
      return String.format(Locale.ROOT, "%.1fk", value / 1e3);
    }
    return String.format(Locale.ROOT, "%.0f", value);
  }

  /** {@code h:mm:ss}. */
  static String duration(double seconds) {
    if (!Double.isFinite(seconds) || seconds < 0) {
      return "-";
    }
    long s = Math.round(seconds);
    return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  }
}
