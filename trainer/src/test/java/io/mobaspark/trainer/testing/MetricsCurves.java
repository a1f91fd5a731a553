package io.mobaspark.trainer.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mobaspark.trainer.loop.TrainingLoop;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A run folder's metrics.jsonl as a loss curve, and curves compared line by line. */
public final class MetricsCurves {
  private static final ObjectMapper JSON = new ObjectMapper();

  private MetricsCurves() {}

  /** Every line of {@code <runDir>/metrics.jsonl}, in order. */
  public static List<JsonNode> read(Path runDir) throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : Files.readAllLines(runDir.resolve(TrainingLoop.METRICS_FILE))) {
      lines.add(JSON.readTree(line));
    }
    return lines;
  }

  /**
   * The same lines (steps, evaluations, token counts) with losses and val losses within
   * {@code tolerance}; wall-clock fields are not compared.
   */
  public static void assertSameCurve(List<JsonNode> expected, List<JsonNode> actual,
      double tolerance) {
    assertEquals(expected.size(), actual.size(), "one line per step and evaluation");
    for (int i = 0; i < expected.size(); i++) {
      JsonNode e = expected.get(i);
      JsonNode a = actual.get(i);
      assertEquals(e.get("step").asInt(), a.get("step").asInt(), "line " + i);
      assertEquals(e.get("tokens").asLong(), a.get("tokens").asLong(), "tokens, line " + i);
      String field = e.has("loss") ? "loss" : "val_loss";
      assertEquals(e.get(field).asDouble(), a.get(field).asDouble(), tolerance,
          field + " at step " + e.get("step"));
    }
  }
}
