package io.mobaspark.trainer.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {
  private final LrSchedule schedule = new LrSchedule(1e-3, 1e-4, 10, 110);

  @Test
  void warmupRisesLinearlyToThePeak() {
    assertEquals(1e-4, schedule.at(1), 1e-15);
    assertEquals(5e-4, schedule.at(5), 1e-15);
    assertEquals(1e-3, schedule.at(10), 1e-15);
  }

  @Test
  void cosineDecaysToMinLrAtMaxStepsAndStaysThere() {
    assertEquals(0.5 * (1e-3 + 1e-4), schedule.at(60), 1e-15, "half way down the cosine");
    assertEquals(1e-4, schedule.at(110), 1e-15);
    assertEquals(1e-4, schedule.at(500), 1e-15);
    for (int step = 11; step <= 110; step++) {
      assertTrue(schedule.at(step) < schedule.at(step - 1), "decreasing at step " + step);
    }
  }

  @Test
  void withoutWarmupTheFirstStepIsNearThePeak() {
    LrSchedule noWarmup = new LrSchedule(1e-3, 0, 0, 100);
    assertEquals(1e-3 * 0.5 * (1 + Math.cos(Math.PI / 100)), noWarmup.at(1), 1e-15);
    assertEquals(0, noWarmup.at(100), 1e-15);
  }

  @Test
  void warmupOverTheWholeRunEndsAtThePeak() {
    assertEquals(2e-3, new LrSchedule(2e-3, 0, 5, 5).at(5), 1e-15);
  }

  @Test
  void rejectsInvalidSettings() {
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(0, 0, 0, 10));
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 2e-3, 0, 10));
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(1e-3, 0, 11, 10));
    assertThrows(IllegalArgumentException.class, () -> schedule.at(0));
  }
}
