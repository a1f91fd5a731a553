package io.mobaspark.trainer.lab;

import io.mobaspark.kernels.Backend;
import io.mobaspark.kernels.Precision;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.trainer.ForwardingModel;
import io.mobaspark.trainer.TrainableModel;
import io.mobaspark.trainer.config.PretrainConfig;
import io.mobaspark.trainer.exchange.ExchangeSpec;
import io.mobaspark.trainer.exchange.GradientExchange;
import io.mobaspark.trainer.exchange.GradientExchanges;
import io.mobaspark.trainer.exchange.WireDType;
import io.mobaspark.trainer.exchange.lab.ThreadRendezvous;
import io.mobaspark.trainer.loop.TokenBatch;
import io.mobaspark.trainer.loop.TrainStep;
import io.mobaspark.trainer.model.Model;
import io.mobaspark.trainer.model.ModelConfig;
import io.mobaspark.trainer.optim.AdamW;
import io.mobaspark.trainer.optim.LrSchedule;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * How much of the data-parallel gradient average the backward hides (docs/exchange.md, "Overlap
 * with the backward"): {@code ranks} ranks as threads of this JVM, each with its own backend (rank
 * {@code r} on GPU {@code r % gpus}, or the CPU), model and exchange, train the same steps twice:
 * with the groups sent during the last backward, and with every group sent after it (the model
 * wrapped so that it reports no group early). Prints rank 0's median step time and median wait
 * for the exchange after the backward ({@code TrainStep.Result#exchangeWaitMillis}) for both.
 *
 * <pre>
 * DataParallelOverlap MODEL.conf [--ranks 2] [--batch 1] [--seq 8192] [--steps 6] [--warmup 2]
 *     [--wire fp32|bf16] [--cpu] [--gpus 1] [--kind ring|shared|shared-host]
 * </pre>
 * {@code shared} on GPUs averages in device memory (the step's {@code DeviceGradientAverage}; with
 * {@code --gpus 2} or more the thread ranks read each other's arenas over peer access, as the Spark
 * job's tasks of one executor do), {@code shared-host} through the host as the other kinds do; both
 * print rank 0's losses, which must agree.
 */
public final class DataParallelOverlap {
  private DataParallelOverlap() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: DataParallelOverlap MODEL.conf [--ranks N] [--batch N] [--seq N]"
          + " [--steps N] [--warmup N] [--wire fp32|bf16] [--cpu] [--gpus N]"
          + " [--kind ring|shared|shared-host]");
      System.exit(2);
    }
    Path conf = Path.of(args[0]);
    int ranks = 2;
    int batch = 1;
    int seq = 8192;
    int steps = 6;
    int warmup = 2;
    WireDType wire = WireDType.FP32;
    boolean cpu = false;
    int gpus = 1;
    String kind = "ring";
    for (int i = 1; i < args.length; i++) {
      switch (args[i]) {
        case "--ranks" -> ranks = Integer.parseInt(args[++i]);
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--seq" -> seq = Integer.parseInt(args[++i]);
        case "--steps" -> steps = Integer.parseInt(args[++i]);
        case "--warmup" -> warmup = Integer.parseInt(args[++i]);
        case "--wire" -> wire = WireDType.valueOf(args[++i].toUpperCase(Locale.ROOT));
        case "--cpu" -> cpu = true;
        case "--gpus" -> gpus = Integer.parseInt(args[++i]);
        case "--kind" -> kind = args[++i];
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (gpus < 1) {
      throw new IllegalArgumentException("--gpus must be >= 1, got " + gpus);
    }
    ModelConfig config = PretrainConfig.load(conf, Map.of()).model();
    System.out.printf(Locale.ROOT, "%s, %,d parameters, %d ranks x %d x %d tokens, " + kind
        + ", wire %s,"
        + " %s, %d cores%n", conf.getFileName(), config.parameterCount(), ranks, batch, seq, wire,
        cpu ? "CPU backends" : gpus == 1 ? "all ranks on GPU 0" : "rank r on GPU r % " + gpus,
        Runtime.getRuntime().availableProcessors());
    System.out.println("| mode | step ms (rank 0, median) | exchange wait ms (median) |");
    System.out.println("|---|---|---|");
    for (boolean overlap : new boolean[] {true, false}) {
      double[][] rank0 = run(config, ranks, SeqLayout.uniform(batch, seq), steps, warmup, wire, cpu,
          gpus, overlap, kind);
      System.out.printf(Locale.ROOT, "| %s | %.1f | %.1f |%n",
          overlap ? "groups during the backward" : "all groups after the backward",
          TrainingThroughput.median(rank0[0]), TrainingThroughput.median(rank0[1]));
      System.out.println("rank 0 losses: " + Arrays.toString(rank0[2]));
    }
  }

  /**
   * Rank 0's step milliseconds and exchange-wait milliseconds of the timed steps, and its losses of
   * every step.
   */
  private static double[][] run(ModelConfig config, int ranks, SeqLayout layout, int steps,
      int warmup, WireDType wire, boolean cpu, int gpus, boolean overlap, String kind)
      throws Exception {
    boolean onHost = kind.equals("shared-host");
    ExchangeSpec spec = new ExchangeSpec(ExchangeSpec.Kind.parse(onHost ? "shared" : kind), ranks, "",
        GradientExchanges.newSecret(), 4 << 20, wire, 600_000);
    ThreadRendezvous rendezvous = new ThreadRendezvous(ranks);
    ExecutorService threads = Executors.newFixedThreadPool(ranks);
    try {
      List<Future<double[][]>> futures = new ArrayList<>();
      for (int r = 0; r < ranks; r++) {
        int rank = r;
        futures.add(threads.submit(() -> {
          Backend backend = cpu
              ? new CpuBackend(Precision.FLOAT32, Runtime.getRuntime().availableProcessors())
              : new CudaBackend(rank % gpus);
          try (backend;
              Model model = new Model(backend, config, 1);
              AdamW adamw = new AdamW(backend, model.parameters(), 0.9, 0.95, 1e-8, 0.1);
              GradientExchange exchange = onHost
                  ? GradientExchanges.open(spec, rank, "127.0.0.1", rendezvous.forRank(rank))
                  : GradientExchanges.open(spec, rank, "127.0.0.1", rendezvous.forRank(rank),
                      backend);
              TrainStep step = new TrainStep(backend, overlap ? model : afterBackward(model),
                  adamw, new LrSchedule(3e-4, 3e-5, 1, warmup + steps + 1), 1.0, exchange)) {
            List<TokenBatch> batches = List.of(TrainingThroughput.batch(config, layout, 1 + rank),
                TrainingThroughput.batch(config, layout, 3 + rank));
            double[][] ms = new double[3][];
            ms[0] = new double[steps];
            ms[1] = new double[steps];
            ms[2] = new double[warmup + steps];
            for (int n = 1; n <= warmup + steps; n++) {
              long start = System.nanoTime();
              TrainStep.Result result = step.run(n, List.of(batches.get(n % 2)));
              ms[2][n - 1] = result.loss();
              if (n > warmup) {
                ms[0][n - warmup - 1] = (System.nanoTime() - start) / 1e6;
                ms[1][n - warmup - 1] = result.exchangeWaitMillis();
              }
            }
            return ms;
          }
        }));
      }
      double[][] rank0 = futures.get(0).get();
      for (Future<double[][]> f : futures) {
        f.get();
      }
      return rank0;
    } finally {
      threads.shutdownNow();
    }
  }

  /** The model with its groups but none reported early: every group is sent after the backward. */
  private static TrainableModel afterBackward(Model model) {
    return new ForwardingModel(model) {
      @Override
      public double forwardBackward(int[] inputs, int[] targets, SeqLayout layout, double gradScale,
          IntConsumer groupDone) {
        return TrainableModel.forwardBackwardThenGroups(model, inputs, targets, layout, gradScale,
            groupDone);
      }
    };
  }
}
