package io.mobaspark.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossCurvePlotTest {

  @Test
  void drawsTheTrainingAndValidationLinesOfAMetricsFile(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("metrics.jsonl");
    StringBuilder lines = new StringBuilder();
    for (int s = 1; s <= 50; s++) {
      lines.append("{\"step\":").append(s).append(",\"loss\":").append(5.0 / s + 1)
          .append(",\"lr\":0.001,\"grad_norm\":1,\"tokens\":100,\"tokens_per_s\":10,\"elapsed_s\":1}\n");
    }
    lines.append("{\"step\":50,\"val_loss\":1.5,\"tokens\":100,\"elapsed_s\":2}\n");
    Files.writeString(metrics, lines);

    LossCurvePlot.Curve curve = LossCurvePlot.read(metrics);
    assertEquals(50, curve.train().size());
    assertEquals(1.5, curve.val().get(0)[1]);
    Path png = dir.resolve("plots/loss.png");
    LossCurvePlot.write(curve, png, "test run");
    BufferedImage image = ImageIO.read(png.toFile());
    assertEquals(1000, image.getWidth());
    // The validation dot at the last step and lowest loss sits near the plot's right edge.
    int orange = 0xFF7F0E;
    boolean found = false;
    for (int x = 900; x < 975 && !found; x++) {
      for (int y = 300; y < 560 && !found; y++) {
        found = (image.getRGB(x, y) & 0xFFFFFF) == orange;
      }
    }
    assertEquals(true, found, "an orange validation point near the last step");
  }

  @Test
  void movingAverageSmoothsAndSkipsNonFiniteLosses() {
    List<double[]> smooth = LossCurvePlot.movingAverage(List.of(new double[] {1, 1},
        new double[] {2, Double.NaN}, new double[] {3, 3}), 3);
    assertEquals(1.0, smooth.get(0)[1]);
    assertEquals(2.0, smooth.get(1)[1]);
    assertNotEquals(Double.NaN, smooth.get(2)[1]);
  }

  @Test
  void aFileWithoutTrainingLinesIsRefusedByName(@TempDir Path dir) throws Exception {
    Path metrics = dir.resolve("empty.jsonl");
    Files.writeString(metrics, "\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LossCurvePlot.read(metrics));
    assertEquals("metrics file " + metrics + " has no training lines", e.getMessage());
  }
}
