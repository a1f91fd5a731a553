package io.mobaspark.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void reopeningAfterACrashDropsStepsPastTheCheckpointAndTornLines() throws Exception {
    Path file = dir.resolve("run/metrics.jsonl");
    try (MetricsLog log = MetricsLog.open(file, 0)) {
      for (int step = 1; step <= 5; step++) {
        log.step(step, 1.0 / step, 1e-3, 0.5, 16L * step, 1000, step, 0);
      }
      log.eval(4, 0.3, 64, 4.5);
    }
    Files.writeString(file, Files.readString(file) + "{\"step\": 6, \"lo");

    try (MetricsLog log = MetricsLog.open(file, 3)) {
      log.step(4, 0.25, 1e-3, 0.5, 64, 1000, 4, 0);
    }
    List<Integer> steps = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      steps.add(JSON.readTree(line).get("step").asInt());
    }
    assertEquals(List.of(1, 2, 3, 4), steps);
  }
}
