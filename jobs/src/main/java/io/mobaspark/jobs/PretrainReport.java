package io.mobaspark.jobs;

import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TrainSummary;
import java.util.Locale;

/** The closing line of a pretraining run on the console. */
final class PretrainReport {
  private PretrainReport() {}

  static String line(TrainSummary s, PretrainConfig cfg) {
    return String.format(Locale.ROOT,
        "step %d (%d this run), train loss %.4f, val loss %.4f, %,d tokens in %.1f s "
            + "(%,.0f tokens/s), %,d parameters; run folder %s",
        s.step(), s.stepsThisRun(), s.trainLoss(), s.valLoss(), s.tokens(), s.seconds(),
        s.tokens() / Math.max(s.seconds(), 1e-9), s.parameters(), cfg.run().dir());
  }
}
