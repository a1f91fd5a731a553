package io.mobaspark.trainer.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * Draws a run's loss curve from its {@code metrics.jsonl} ({@link MetricsLog}) as a PNG: the training
 * loss per step (thin grey), its moving average over 1% of the steps (blue) and the validation losses
 * (orange dots), with the step and loss axes labelled. Headless AWT, no plotting dependency.
 *
 * <pre>LossCurvePlot METRICS.jsonl OUT.png [title]</pre>
 */
public final class LossCurvePlot {
  private static final int WIDTH = 1000;
  private static final int HEIGHT = 600;
  private static final int LEFT = 80;
  private static final int RIGHT = 30;
  private static final int TOP = 50;
  private static final int BOTTOM = 60;

  /** Training points (step, loss) and validation points, in file order. */
  public record Curve(List<double[]> train, List<double[]> val) {}

  private LossCurvePlot() {}

  public static void main(String[] args) {
    if (args.length < 2) {
      System.err.println("usage: LossCurvePlot METRICS.jsonl OUT.png [title]");
      System.exit(2);
    }
    Curve curve = read(Path.of(args[0]));
    write(curve, Path.of(args[1]), args.length > 2 ? args[2] : Path.of(args[0]).toString());
    System.out.printf(Locale.ROOT, "%s: %d training steps, %d evaluations%n", args[1],
        curve.train().size(), curve.val().size());
  }

  /** Reads the training and validation lines; lines of other shapes are skipped. */
  public static Curve read(Path metrics) {
    ObjectMapper json = new ObjectMapper();
    List<double[]> train = new ArrayList<>();
    List<double[]> val = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode n = json.readTree(line);
        if (n.has("loss")) {
          train.add(new double[] {n.get("step").asDouble(), n.get("loss").asDouble()});
        } else if (n.has("val_loss")) {
          val.add(new double[] {n.get("step").asDouble(), n.get("val_loss").asDouble()});
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read metrics file " + metrics, e);
    }
    if (train.isEmpty()) {
      throw new IllegalArgumentException("metrics file " + metrics + " has no training lines");
    }
    return new Curve(train, val);
  }

  /** Renders {@code curve} into {@code png}. */
  public static void write(Curve curve, Path png, String title) {
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);

    double maxStep = Math.max(1, last(curve.train())[0]);
    double lo = Double.MAX_VALUE;
    double hi = -Double.MAX_VALUE;
    for (List<double[]> points : List.of(curve.train(), curve.val())) {
      for (double[] p : points) {
        if (Double.isFinite(p[1])) {
          lo = Math.min(lo, p[1]);
          hi = Math.max(hi, p[1]);
        }
      }
    }
    double pad = Math.max(1e-3, 0.05 * (hi - lo));
    Axes axes = new Axes(maxStep, lo - pad, hi + pad);

    g.setColor(new Color(0xDDDDDD));
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    for (int i = 0; i <= 5; i++) {
      double loss = axes.lo + i * (axes.hi - axes.lo) / 5;
      int y = axes.y(loss);
      g.setColor(new Color(0xDDDDDD));
      g.drawLine(LEFT, y, WIDTH - RIGHT, y);
      g.setColor(Color.DARK_GRAY);
      g.drawString(String.format(Locale.ROOT, "%.2f", loss), 10, y + 4);
      double step = i * maxStep / 5;
      g.drawString(String.format(Locale.ROOT, "%.0f", step), axes.x(step) - 10, HEIGHT - BOTTOM + 20);
    }
    g.setColor(Color.BLACK);
    g.drawRect(LEFT, TOP, WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    g.drawString("optimizer step", WIDTH / 2 - 40, HEIGHT - 15);
    g.drawString("loss (nats/token)", 10, TOP - 10);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    g.drawString(title, LEFT, 25);

    g.setStroke(new BasicStroke(1f));
    g.setColor(new Color(0xBBBBBB));
    g.draw(path(curve.train(), axes));
    g.setStroke(new BasicStroke(2f));
    g.setColor(new Color(0x1F77B4));
    g.draw(path(movingAverage(curve.train(), Math.max(1, curve.train().size() / 100)), axes));
    g.setColor(new Color(0xFF7F0E));
    for (double[] p : curve.val()) {
      g.fillOval(axes.x(p[0]) - 4, axes.y(p[1]) - 4, 8, 8);
    }
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    g.drawString("validation", WIDTH - RIGHT - 150, TOP + 20);
    g.setColor(new Color(0x1F77B4));
    g.drawString("training (moving average)", WIDTH - RIGHT - 150, TOP + 36);
    g.dispose();
    try {
      if (png.toAbsolutePath().getParent() != null) {
        Files.createDirectories(png.toAbsolutePath().getParent());
      }
      ImageIO.write(image, "png", png.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + png, e);
    }
  }

  /** The centred mean over {@code window} points (shorter at the ends), skipping non-finite losses. */
  static List<double[]> movingAverage(List<double[]> points, int window) {
    List<double[]> out = new ArrayList<>(points.size());
    for (int i = 0; i < points.size(); i++) {
      double sum = 0;
      int count = 0;
      for (int j = Math.max(0, i - window / 2); j <= Math.min(points.size() - 1, i + window / 2); j++) {
        if (Double.isFinite(points.get(j)[1])) {
          sum += points.get(j)[1];
          count++;
        }
      }
      out.add(new double[] {points.get(i)[0], count == 0 ? Double.NaN : sum / count});
    }
    return out;
  }

  private static Path2D path(List<double[]> points, Axes axes) {
    Path2D.Double p = new Path2D.Double();
    boolean started = false;
    for (double[] point : points) {
      if (!Double.isFinite(point[1])) {
        started = false;
        continue;
      }
      if (started) {
        p.lineTo(axes.x(point[0]), axes.y(point[1]));
      } else {
        p.moveTo(axes.x(point[0]), axes.y(point[1]));
        started = true;
      }
    }
    return p;
  }

  private static double[] last(List<double[]> points) {
    return points.get(points.size() - 1);
  }

  /** Data to pixel coordinates inside the plot frame. */
  private record Axes(double maxStep, double lo, double hi) {
    int x(double step) {
      return LEFT + (int) Math.round(step / maxStep * (WIDTH - LEFT - RIGHT));
    }

    int y(double loss) {
      return HEIGHT - BOTTOM - (int) Math.round((loss - lo) / (hi - lo) * (HEIGHT - TOP - BOTTOM));
    }
  }
}
