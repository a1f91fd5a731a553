package io.mobaspark.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ProgressLineTest {

  @Test
  void showsStepLossLrThroughputElapsedAndEta() {
    assertEquals("step  120/5000 | loss 4.1873 | lr 6.00e-04 | 48.2k tok/s | elapsed 0:02:31"
            + " | eta 1:42:04",
        ProgressLine.format(120, 5000, 4.18734, 6e-4, 48_210, 151, 1.255));
  }

  @Test
  void aTimeBudgetThatEndsTheRunFirstBoundsTheEta() {
    assertEquals("step  120/5000 | loss 4.1873 | lr 6.00e-04 | 48.2k tok/s | elapsed 0:02:31"
            + " | eta 0:07:29",
        ProgressLine.format(120, 5000, 4.18734, 6e-4, 48_210, 151, 1.255, 600));
    assertEquals("step  120/5000 | loss 4.1873 | lr 6.00e-04 | 48.2k tok/s | elapsed 0:02:31"
            + " | eta 1:42:04",
        ProgressLine.format(120, 5000, 4.18734, 6e-4, 48_210, 151, 1.255, 86_400));
  }

  @Test
  void aDataParallelLineEndsWithTheExchangeWait() {
    assertEquals("step 3/9 | loss 1.0000 | lr 1.00e-03 | 950 tok/s | elapsed 0:00:03 | eta 0:00:06"
            + " | exchange wait 13 ms",
        ProgressLine.withExchangeWait(ProgressLine.format(3, 9, 1, 1e-3, 950, 3, 1), 12.6));
    assertEquals("step 3/9", ProgressLine.withExchangeWait("step 3/9", Double.NaN));
  }

  @Test
  void aLineOverFiniteDataEndsWithThePassesMade() {
    assertEquals("step 3/9 | loss 1.0000 | pass 6.5", ProgressLine.withPasses("step 3/9 | loss 1.0000",
        6.48));
    assertEquals("step 3/9", ProgressLine.withPasses("step 3/9", Double.NaN));
  }

  @Test
  void formatsLargeAndSmallNumbers() {
    assertEquals("950", ProgressLine.compact(950));
    assertEquals("1.35M", ProgressLine.compact(1_350_000));
    assertEquals("-", ProgressLine.compact(Double.POSITIVE_INFINITY));
    assertEquals("27:46:40", ProgressLine.duration(100_000));
  }

  @Test
  void evalLine() {
    assertEquals("eval  250/5000 | val_loss 3.2100", ProgressLine.eval(250, 5000, 3.21));
  }
}
