package io.mobaspark.trainer.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code <run dir>/metrics.jsonl}: one JSON object per line, a training line per step
 * ({@code step, loss, lr, grad_norm, tokens, tokens_per_s, elapsed_s}) and an evaluation line per
 * evaluation ({@code step, val_loss, tokens, elapsed_s}). Each line is flushed as it is written, so
 * the file can be tailed and plotted while the run is going.
 */
public final class MetricsLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final BufferedWriter out;

  private MetricsLog(Path file, BufferedWriter out) {
    this.file = file;
    this.out = out;
  }

  /**
   * Opens {@code file} for appending. Lines after {@code resumedStep} (written by a run that crashed
   * after its last checkpoint; the resumed run repeats those steps) and a torn last line are removed
   * first, so the file holds exactly one line per step.
   */
  public static MetricsLog open(Path file, int resumedStep) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      if (Files.exists(file)) {
        keepUpTo(file, resumedStep);
      }
      return new MetricsLog(file, Files.newBufferedWriter(file, StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open metrics file " + file, e);
    }
  }

  /**
   * Records one optimizer step; {@code exchangeWaitMillis} is the time the step waited for the
   * gradient average after its backward, written only where finite (NaN for one rank: no exchange).
   */
  public void step(int step, double loss, double lr, double gradNorm, long tokens,
      double tokensPerSecond, double elapsedSeconds, double exchangeWaitMillis) {
    ObjectNode line = JSON.createObjectNode();
    line.put("step", step);
    line.put("loss", loss);
    line.put("lr", lr);
    line.put("grad_norm", gradNorm);
    line.put("tokens", tokens);
    line.put("tokens_per_s", tokensPerSecond);
    line.put("elapsed_s", elapsedSeconds);
    if (Double.isFinite(exchangeWaitMillis)) {
      line.put("exchange_wait_ms", exchangeWaitMillis);
    }
    write(line);
  }

  /** Records one evaluation. */
  public void eval(int step, double valLoss, long tokens, double elapsedSeconds) {
    ObjectNode line = JSON.createObjectNode();
    line.put("step", step);
    line.put("val_loss", valLoss);
    line.put("tokens", tokens);
    line.put("elapsed_s", elapsedSeconds);
    write(line);
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close metrics file " + file, e);
    }
  }

  private void write(ObjectNode line) {
    try {
      out.write(line.toString());
      out.newLine();
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write metrics file " + file, e);
    }
  }

  private static void keepUpTo(Path file, int resumedStep) throws IOException {
    List<String> kept = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      JsonNode node;
      try {
        node = JSON.readTree(line);
      } catch (JsonProcessingException torn) {
        continue;
      }
      if (node != null && node.path("step").asInt(Integer.MAX_VALUE) <= resumedStep) {
        kept.add(line);
      }
    }
    Path temp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(temp, kept, StandardCharsets.UTF_8);
    Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
