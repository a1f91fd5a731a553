package io.mobaspark.trainer.lab;

import io.mobaspark.kernels.AttentionKind;
import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.lab.ProfilingBackend;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.loop.TokenBatch;
import io.mobaspark.trainer.loop.TrainStep;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Issue 5's end-to-end benchmark: full training steps (forward, backward, finite checks, clipping,
 * AdamW) of a model config on one GPU, timed after warm-up, with tokens/s, model TFLOP/s and MFU as
 * {@link TrainingFlops} counts them, and optionally a per-op breakdown ({@link ProfilingBackend}).
 *
 * <pre>
 * TrainingThroughput MODEL.conf [--batch 1] [--seq 8192] [--steps 10] [--warmup 3]
 *     [--checkpointing] [--profile] [--cpu] [--peak-tflops 989]
 * </pre>
 * The batch is one uniform layout of {@code batch} sequences of {@code seq} tokens, each repeating a
 * random phrase (learnable, so the loss falls and no gradient is degenerate). {@code --peak-tflops}
 * is the device's dense bf16 rate the MFU divides by (H100/H200 SXM: 989). {@code --cpu} runs the
 * same on the CPU backend, for small configs on machines without a GPU.
 */
public final class TrainingThroughput {
  private TrainingThroughput() {}

  public static void main(String[] args) {
    if (args.length == 0) {
      System.err.println("usage: TrainingThroughput MODEL.conf [--batch N] [--seq N] [--steps N]"
          + " [--warmup N] [--checkpointing] [--profile] [--cpu] [--peak-tflops X]");
      System.exit(2);
    }
    Path conf = Path.of(args[0]);
    int batch = 1;
    int seq = 8192;
    int steps = 10;
    int warmup = 3;
    boolean checkpointing = false;
    boolean profile = false;
    boolean cpu = false;
    double peakTflops = 989;
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--seq" -> seq = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--checkpointing" -> checkpointing = true;
        case "--profile" -> profile = true;
        case "--cpu" -> cpu = true;
        case "--peak-tflops" -> peakTflops = Double.parseDouble(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    ModelConfig config = PretrainConfig.load(conf, Map.of()).model();
    SeqLayout layout = SeqLayout.uniform(batch, seq);
    CudaBackend cuda = cpu ? null : new CudaBackend(0);
    Backend inner = cpu ? new CpuBackend(Precision.FLOAT32, Runtime.getRuntime().availableProcessors())
        : cuda;
    ProfilingBackend backend = new ProfilingBackend(inner,
        cuda == null ? () -> { } : () -> cuda.context().synchronize());
    backend.enabled(false);
    try (backend;
        Model model = new Model(backend, config, 1, checkpointing);
        AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1)) {
      TrainStep step = new TrainStep(backend, model, adamw,
          new LrSchedule(3e-4, 3e-5, 1, warmup + 2 * steps + 1), 1.0);
      List<TokenBatch> batches = List.of(batch(config, layout, 1), batch(config, layout, 2));
      System.out.printf(Locale.ROOT, "%s, %s, %,d parameters, %d x %d tokens, checkpointing %s%n",
          inner.description(), conf.getFileName(), config.parameterCount(), batch, seq,
          checkpointing);
      int n = 0;
      for (int i = 0; i < warmup; i++) {
        report(++n, step.run(n, List.of(batches.get(n % 2))), -1);
      }
      double[] millis = new double[steps];
      for (int i = 0; i < steps; i++) {
        long start = System.nanoTime();
        TrainStep.Result r = step.run(++n, List.of(batches.get(n % 2)));
        millis[i] = (System.nanoTime() - start) / 1e6;
        report(n, r, millis[i]);
      }
      double median = median(millis);
      long tokens = (long) batch * seq;
      double flops = TrainingFlops.matmulFlopsPerToken(config) * (double) tokens
          + attentionFlops(model, config, layout);
      double tflops = flops / (median / 1e3) / 1e12;
      String memory = cuda == null ? "n/a" : String.format(Locale.ROOT, "%.1f GiB",
          (cuda.context().memoryInfo()[1] - cuda.context().memoryInfo()[0]) / (double) (1L << 30));
      if (profile) {
        backend.enabled(true);
        int profiled = Math.max(2, steps / 2);
        for (int i = 0; i < profiled; i++) {
          step.run(++n, List.of(batches.get(n % 2)));
        }
        System.out.println("\nper-op breakdown (each op synchronized; " + profiled + " steps):");
        System.out.print(backend.table(profiled));
      }
      System.out.printf(Locale.ROOT, "%n| model | tokens/step | step ms (median of %d) | tokens/s"
          + " | model TFLOP/s | MFU (peak %.0f) | device memory in use |%n", steps, peakTflops);
      System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %,.0f | %.1f | %.1f%% | %s |%n",
          conf.getFileName(), tokens, median, tokens / (median / 1e3), tflops,
          100 * tflops / peakTflops, memory);
    }
  }

  private static void report(int step, TrainStep.Result r, double millis) {
    System.out.printf(Locale.ROOT, "step %3d loss %.4f grad norm %.3f%s%n", step, r.loss(),
        r.gradNorm(), millis < 0 ? " (warm-up)" : String.format(Locale.ROOT, " %.2f ms", millis));
  }

  /**
   * Attention FLOPs of one step: the pairs each layer attends, MoBA's from the latest routing. With
   * activation checkpointing only the last MoBA layer's routing is kept; the other MoBA layers are
   * counted as attending as many pairs.
   */
  private static double attentionFlops(Model model, ModelConfig c, SeqLayout layout) {
    double flops = 0;
    long lastMobaPairs = -1;
    for (int l = c.layers() - 1; l >= 0; l--) {
      AttentionKind kind = c.attentionKind(l);
      long pairs;
      if (kind != AttentionKind.MOBA) {
        pairs = TrainingFlops.densePairs(kind, c.window(), layout) * c.heads();
      } else {
        try {
          pairs = TrainingFlops.mobaPairs(model.readRouting(l), c.heads(), c.topk(), c.blockSize(),
              layout);
          lastMobaPairs = pairs;
        } catch (IllegalStateException recomputedAway) {
          pairs = lastMobaPairs;
        }
      }
      flops += TrainingFlops.attentionFlops(pairs, c.headDim());
    }
    return flops;
  }

  /** Every sequence repeats its own random phrase of 3 to 64 tokens; next-token targets. */
  static TokenBatch batch(ModelConfig c, SeqLayout layout, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    int tokens = layout.totalTokens();
    int[] inputs = new int[tokens];
    int[] targets = new int[tokens];
    for (int s = 0; s < layout.sequences(); s++) {
      int[] phrase = random.ints(3 + random.nextInt(62), 0, c.vocabSize()).toArray();
      for (int t = layout.start(s); t < layout.end(s); t++) {
        inputs[t] = phrase[(t - layout.start(s)) % phrase.length];
      }
      for (int t = layout.start(s); t < layout.end(s); t++) {
        targets[t] = t + 1 < layout.end(s) ? inputs[t + 1] : -1;
      }
    }
    return new TokenBatch(inputs, targets, layout);
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
