package io.mobaspark.jobs.pretrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mobaspark.trainer.metrics.ProgressLine;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Progress on the driver's console while the training tasks run on executors: a daemon thread tails
 * the run's {@code metrics.jsonl} (rank 0 appends one line per step) and prints a progress line every
 * {@code every} steps and after each evaluation. Reads only whole lines; survives the file not yet
 * existing and a resumed run appending to it. Where {@code run.dir} is on a Hadoop FileSystem, the
 * file is the copy rank 0 uploads at each checkpoint: progress then arrives a checkpoint at a time.
 *
 * <p>A retried training stage first truncates the file to its checkpoint's step and then logs the
 * steps after it again: the file may shrink, or shrink and regrow between two polls so that the
 * saved offset falls inside a line. Either way the tail is read again from the start, and a step or
 * evaluation already printed is not printed twice.
 */
public final class DriverProgress implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final MetricsTail metrics;
  private final int maxSteps;
  private final int every;
  private final PrintStream console;
  private final Thread thread;
  private volatile boolean running = true;
  private long offset;
  /** The last step and evaluation printed (or, at start, already in the file). */
  private int lastStep = -1;
  private int lastEvalStep = -1;
  private double lastElapsed;

  private DriverProgress(MetricsTail metrics, int maxSteps, int every, PrintStream console) {
    this.metrics = metrics;
    this.maxSteps = maxSteps;
    this.every = Math.max(1, every);
    this.console = console;
    this.thread = new Thread(this::loop, "mobaspark-driver-progress");
    this.thread.setDaemon(true);
  }

  /** Starts tailing {@code metrics}, skipping what it already holds (an earlier segment's lines). */
  public static DriverProgress start(MetricsTail metrics, int maxSteps, int every,
      PrintStream console) {
    DriverProgress progress = new DriverProgress(metrics, maxSteps, every, console);
    progress.read(false);
    progress.thread.start();
    return progress;
  }

  private void loop() {
    while (running) {
      poll();
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Reads the lines appended since the last poll and prints what is due. */
  synchronized void poll() {
    read(true);
  }

  private void read(boolean print) {
    try {
      long length = metrics.length();
      if (length < 0) {
        return;
      }
      if (length < offset) {
        offset = 0; // replaced, not appended to
      }
      byte[] rest = metrics.read(offset, (int) Math.min(Integer.MAX_VALUE - 8, length - offset));
      String text = new String(rest, StandardCharsets.UTF_8);
      int end = text.lastIndexOf('\n');
      if (end < 0) {
        return;
      }
      offset += text.substring(0, end + 1).getBytes(StandardCharsets.UTF_8).length;
      for (String line : text.substring(0, end).split("\n")) {
        if (!line.isBlank()) {
          report(JSON.readTree(line), print);
        }
      }
    } catch (JsonProcessingException midLine) {
      offset = 0; // truncated and regrown since the last poll: read it all again next time
    } catch (IOException e) {
      console.println("[pretrain] cannot read " + metrics.describe() + " for progress: "
          + e.getMessage());
    }
  }

  private void report(JsonNode line, boolean print) {
    int step = line.path("step").asInt();
    double elapsed = line.path("elapsed_s").asDouble();
    if (line.has("val_loss")) {
      if (print && step > lastEvalStep) {
        console.println("[pretrain] "
            + ProgressLine.eval(step, maxSteps, line.get("val_loss").asDouble()));
      }
      lastEvalStep = Math.max(lastEvalStep, step);
      return;
    }
    if (!line.has("loss") || step <= lastStep || (print && step % every != 0 && step != maxSteps)) {
      return;
    }
    if (!print) {
      lastStep = step;
      lastElapsed = elapsed;
      return;
    }
    double secondsPerStep = lastStep >= 0 && step > lastStep
        ? (elapsed - lastElapsed) / (step - lastStep) : elapsed / Math.max(1, step);
    String progress = ProgressLine.format(step, maxSteps, line.get("loss").asDouble(),
        line.path("lr").asDouble(), line.path("tokens_per_s").asDouble(), elapsed, secondsPerStep);
    console.println("[pretrain] " + ProgressLine.withExchangeWait(progress,
        line.path("exchange_wait_ms").asDouble(Double.NaN)));
    lastStep = step;
    lastElapsed = elapsed;
  }

  @Override
  public void close() {
    running = false;
    thread.interrupt();
    poll();
  }
}
