package io.mobaspark.jobs.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DriverProgressTest {

  private static void append(Path file, String text) throws Exception {
    Files.writeString(file, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private static String step(int step, double elapsed) {
    return "{\"step\":" + step + ",\"loss\":2.5,\"lr\":1e-3,\"grad_norm\":1,\"tokens\":1,"
        + "\"tokens_per_s\":1000,\"elapsed_s\":" + elapsed + "}\n";
  }

  @Test
  void printsEveryNthStepAndEvaluationsFromWholeLinesOnly(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("metrics.jsonl");
    append(metrics, step(1, 1.0)); // an earlier segment: skipped
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (DriverProgress progress = DriverProgress.start(MetricsTail.of(metrics), 10, 5,
        new PrintStream(out, true, StandardCharsets.UTF_8))) {
      for (int s = 2; s <= 5; s++) {
        append(metrics, step(s, s));
      }
      append(metrics, "{\"step\":5,\"val_loss\":2.25,\"tokens\":1,\"elapsed_s\":5.5}\n");
      append(metrics, "{\"step\":6,\"loss\":"); // half a line: not yet
      progress.poll();
      List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
      assertEquals(2, lines.size(), lines.toString());
      assertTrue(lines.get(0).startsWith("[pretrain] step  5/10 | loss 2.5000"), lines.get(0));
      assertTrue(lines.get(0).contains("eta 0:00:05"), "5 steps left at 1 s each: " + lines.get(0));
      assertTrue(lines.get(1).contains("val_loss 2.2500"), lines.get(1));
      append(metrics, "2.4,\"lr\":1e-3,\"tokens_per_s\":1,\"elapsed_s\":6}\n"
          + step(10, 10).replace("}", ",\"exchange_wait_ms\":12.4}"));
    }
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(3, lines.size(), "the last step is always printed: " + lines);
    assertTrue(lines.get(2).contains("step 10/10"), lines.get(2));
    assertTrue(lines.get(2).endsWith("| exchange wait 12 ms"), "several ranks: " + lines.get(2));
    assertFalse(lines.get(0).contains("exchange"), "one rank: " + lines.get(0));
  }

  @Test
  void aRetriedStageThatTruncatesAndRelogsIsNotPrintedTwice(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("metrics.jsonl");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (DriverProgress progress = DriverProgress.start(MetricsTail.of(metrics), 20, 5,
        new PrintStream(out, true, StandardCharsets.UTF_8))) {
      StringBuilder firstAttempt = new StringBuilder();
      for (int s = 1; s <= 7; s++) {
        firstAttempt.append(step(s, s));
      }
      append(metrics, firstAttempt.toString());
      progress.poll();
      // The retry resumes from step 4: the file is cut there, then steps 5.. are logged again,
      // all before the next poll, so the saved offset now points into the middle of a line.
      StringBuilder retry = new StringBuilder();
      for (int s = 1; s <= 4; s++) {
        retry.append(step(s, s));
      }
      for (int s = 5; s <= 10; s++) {
        retry.append(step(s, s + 0.25));
      }
      Files.writeString(metrics, retry.toString() + "{\"step\":1");
      progress.poll();
      progress.poll();
    }
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(2, lines.size(), "steps 5 and 10, once each: " + lines);
    assertTrue(lines.get(0).contains("step  5/20") && lines.get(1).contains("step 10/20"),
        lines.toString());
  }
}
