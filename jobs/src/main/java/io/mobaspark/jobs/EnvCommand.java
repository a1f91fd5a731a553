package io.mobaspark.jobs;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Backends;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mobaspark env}: what this machine offers the framework. */
@Command(name = "env", mixinStandardHelpOptions = true,
    description = "Print Java, Spark, compute backend and GPU information.")
final class EnvCommand implements Runnable {

  @Option(names = "--backend", defaultValue = "auto",
      description = "Backend to resolve: auto, cpu or cuda (default: ${DEFAULT-VALUE}).")
  String backend;

  @Override
  public void run() {
    PrintStream out = System.out;
    Runtime rt = Runtime.getRuntime();
    out.printf("java      %s (%s), %s%n", System.getProperty("java.version"),
        System.getProperty("java.vendor"), System.getProperty("java.home"));
    out.printf("cpu       %d cores, max heap %d MiB, %s %s%n", rt.availableProcessors(),
        rt.maxMemory() >> 20, System.getProperty("os.name"), System.getProperty("os.arch"));
    out.printf("spark     %s (Scala %s)%n", org.apache.spark.package$.MODULE$.SPARK_VERSION(),
        scala.util.Properties.versionNumberString());
    try (Backend b = Backends.create(backend, 0)) {
      out.printf("backend   %s -> %s%n", backend, b.description());
    }
    List<String> gpus = nvidiaSmi();
    if (gpus.isEmpty()) {
      out.println("gpus      none found (nvidia-smi absent or reports no device)");
    } else {
      for (String gpu : gpus) {
        out.println("gpu       " + gpu);
      }
    }
  }

  /** One line per GPU from nvidia-smi, or nothing where there is no NVIDIA driver. */
  private static List<String> nvidiaSmi() {
    List<String> lines = new ArrayList<>();
    try {
      Process p = new ProcessBuilder("nvidia-smi",
          "--query-gpu=index,name,memory.total,driver_version", "--format=csv,noheader")
          .redirectErrorStream(true).start();
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          if (!line.isBlank()) {
            lines.add(line.trim());
          }
        }
      }
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        return List.of();
      }
    } catch (java.io.IOException e) {
      return List.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
    return lines;
  }
}
