package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.cuda.Bf16;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaTensor;
import io.mobaspark.kernels.cuda.CudaTimer;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.DeviceBuffer;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Times the pointwise ops at the ~125M model's shapes (T = 16K tokens, C = 768, F = 3072,
 * V = 50304, 12 heads of 64; bf16 activations and weight copies, fp32 statistics, parameter
 * gradients and optimizer state) with CUDA events: median of {@value #REPS} runs after
 * {@value #WARMUP} warm-ups, L2 flushed (a 256 MiB memset) before each run. GB/s counts the fewest
 * bytes each op must move (every input read once, every output written once) and is compared with
 * a device-to-device copy measured in the same run.
 *
 * <p>Usage on a GPU machine: {@code .device/java io.mobaspark.kernels.lab.OpsTiming}.
 */
public final class OpsTiming {
  static final int WARMUP = 3;
  static final int REPS = 20;
  static final int T = 16384;
  static final int C = 768;
  static final int F = 3072;
  static final int V = 50304;
  static final int HEADS = 12;
  static final int HEAD_DIM = 64;
  /** GPT-2 small's parameter count with V = 50304: the AdamW step of the ~125M model. */
  static final int PARAMS = 124_475_904;

  private final CudaBackend gpu;
  private final CudaTimer timer;
  private final DeviceBuffer flush;
  private double copyGbps;

  private OpsTiming(CudaBackend gpu) {
    this.gpu = gpu;
    this.timer = new CudaTimer(gpu.context());
    this.flush = gpu.tensor("l2_flush", DType.BF16, 128 << 20).buffer();
  }

  public static void main(String[] args) {
    try (CudaBackend gpu = new CudaBackend(0)) {
      System.out.println(gpu.description());
      new OpsTiming(gpu).runAll();
    }
  }

  private void runAll() {
    System.out.printf(Locale.ROOT, "%-22s %-26s %9s %9s %9s %6s%n", "op", "shape", "ms", "MB", "GB/s",
        "%copy");
    copyCeiling();
    embedding();
    rmsNorm();
    rope();
    swiglu();
    crossEntropy();
    adamw();
  }

  private void copyCeiling() {
    long bytes = 1L << 30;
    try (CudaTensor a = gpu.tensor("copy_src", DType.BF16, (int) (bytes / 2));
        CudaTensor b = gpu.tensor("copy_dst", DType.BF16, (int) (bytes / 2))) {
      fill(a, 1);
      double ms = time(() -> b.buffer().copyFrom(a.buffer(), bytes));
      copyGbps = 2.0 * bytes / ms / 1e6;
      row("copy (ceiling)", "1 GiB", ms, 2.0 * bytes);
    }
  }

  private void embedding() {
    try (CudaTensor out = gpu.tensor("out", DType.BF16, T, C);
        CudaTensor table = gpu.tensor("table", DType.BF16, V, C);
        CudaTensor dTable = gpu.tensor("dTable", DType.F32, V, C);
        IntTensor tokens = gpu.intTensor("tokens", T)) {
      int[] ids = new SplittableRandom(3).ints(T, 0, V).toArray();
      gpu.write(tokens, ids);
      fill(table, 4);
      fill(out, 5);
      String shape = "T=" + T + " C=" + C + " V=" + V;
      row("embedding fwd", shape, time(() -> gpu.embeddingForward(out, tokens, table)),
          2.0 * T * C * 2 + 4.0 * T);
      long distinct = Arrays.stream(ids).distinct().count();
      row("embedding bwd (atomics)", shape, time(() -> gpu.embeddingBackward(dTable, out, tokens)),
          2.0 * T * C + 8.0 * distinct * C + 4.0 * T);
    }
  }

  private void rmsNorm() {
    try (CudaTensor x = gpu.tensor("x", DType.BF16, T, C);
        CudaTensor out = gpu.tensor("out", DType.BF16, T, C);
        CudaTensor dx = gpu.tensor("dx", DType.BF16, T, C);
        CudaTensor rstd = gpu.tensor("rstd", DType.F32, T);
        CudaTensor weight = gpu.tensor("weight", DType.BF16, C);
        CudaTensor dWeight = gpu.tensor("dWeight", DType.F32, C)) {
      fill(x, 6);
      fill(weight, 7);
      fill(out, 8);
      String shape = "T=" + T + " C=" + C;
      row("rmsnorm fwd", shape, time(() -> gpu.rmsNormForward(out, rstd, x, weight, 1e-5)),
          2.0 * T * C * 2 + 4.0 * T);
      row("rmsnorm bwd", shape, time(() -> gpu.rmsNormBackward(dx, dWeight, out, x, weight, rstd)),
          4.0 * T * C * 2 + 4.0 * T + 8.0 * C);
    }
  }

  private void rope() {
    try (CudaTensor q = gpu.tensor("q", DType.BF16, T, HEADS, HEAD_DIM);
        IntTensor positions = gpu.intTensor("positions", T)) {
      gpu.write(positions, IntStream.range(0, T).map(t -> t % 4096).toArray());
      fill(q, 9);
      String shape = "T=" + T + " H=" + HEADS + " D=" + HEAD_DIM;
      double bytes = 2.0 * T * HEADS * HEAD_DIM * 2 + 4.0 * T;
      row("rope fwd (in place)", shape, time(() -> gpu.ropeForward(q, q, positions, HEADS, 10000)), bytes);
      row("rope bwd (in place)", shape, time(() -> gpu.ropeBackward(q, q, positions, HEADS, 10000)), bytes);
    }
  }

  private void swiglu() {
    try (CudaTensor gate = gpu.tensor("gate", DType.BF16, T, F);
        CudaTensor up = gpu.tensor("up", DType.BF16, T, F);
        CudaTensor out = gpu.tensor("out", DType.BF16, T, F);
        CudaTensor dGate = gpu.tensor("dGate", DType.BF16, T, F);
        CudaTensor dUp = gpu.tensor("dUp", DType.BF16, T, F)) {
      fill(gate, 10);
      fill(up, 11);
      fill(out, 12);
      String shape = "T=" + T + " F=" + F;
      row("swiglu fwd", shape, time(() -> gpu.swigluForward(out, gate, up)), 3.0 * T * F * 2);
      row("swiglu bwd", shape, time(() -> gpu.swigluBackward(dGate, dUp, out, gate, up)), 5.0 * T * F * 2);
    }
  }

  private void crossEntropy() {
    try (CudaTensor logits = gpu.tensor("logits", DType.BF16, T, V);
        CudaTensor dLogits = gpu.tensor("dLogits", DType.BF16, T, V);
        CudaTensor losses = gpu.tensor("losses", DType.F32, T);
        IntTensor targets = gpu.intTensor("targets", T)) {
      gpu.write(targets, new SplittableRandom(13).ints(T, 0, V).toArray());
      fill(logits, 14);
      String shape = "T=" + T + " V=" + V;
      double rowBytes = 8.0 * T;
      row("xent losses only", shape, time(() -> gpu.crossEntropy(losses, null, logits, targets, 1.0 / T)),
          2.0 * T * V + rowBytes);
      row("xent + dLogits", shape, time(() -> gpu.crossEntropy(losses, dLogits, logits, targets, 1.0 / T)),
          4.0 * T * V + rowBytes);
    }
  }

  private void adamw() {
    try (CudaTensor p = gpu.tensor("param", DType.F32, PARAMS);
        CudaTensor g = gpu.tensor("grad", DType.F32, PARAMS);
        CudaTensor m = gpu.tensor("m", DType.F32, PARAMS);
        CudaTensor v = gpu.tensor("v", DType.F32, PARAMS)) {
      fill(p, 15);
      fill(g, 16);
      row("adamw (fp32)", "n=" + PARAMS, time(() -> gpu.adamw(p, g, m, v, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1)),
          7.0 * 4 * PARAMS);
    }
  }

  /** Median ms of {@code op} over {@value #REPS} runs after {@value #WARMUP}, L2 flushed before each. */
  private double time(Runnable op) {
    double[] ms = new double[REPS];
    for (int rep = -WARMUP; rep < REPS; rep++) {
      flush.zero();
      timer.start();
      op.run();
      double t = timer.stopMillis();
      if (rep >= 0) {
        ms[rep] = t;
      }
    }
    Arrays.sort(ms);
    return ms[REPS / 2];
  }

  private void row(String op, String shape, double ms, double bytes) {
    double gbps = bytes / ms / 1e6;
    System.out.printf(Locale.ROOT, "%-22s %-26s %9.4f %9.1f %9.0f %5.0f%%%n", op, shape, ms, bytes / 1e6,
        gbps, copyGbps == 0 ? 100 : 100 * gbps / copyGbps);
  }

  /** Standard normal values (as bf16 or fp32), made in parallel chunks: the logits are 824M values. */
  private static void fill(CudaTensor t, long seed) {
    int n = (int) t.numel();
    int chunk = 1 << 20;
    if (t.dtype() == DType.BF16) {
      short[] bits = new short[n];
      IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + c);
        for (int i = c * chunk, end = Math.min(n, i + chunk); i < end; i++) {
          bits[i] = Bf16.fromFloat((float) random.nextGaussian());
        }
      });
      t.buffer().write(bits);
    } else {
      float[] values = new float[n];
      IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
        SplittableRandom random = new SplittableRandom(seed * 1_000_003L + c);
        for (int i = c * chunk, end = Math.min(n, i + chunk); i < end; i++) {
          values[i] = (float) random.nextGaussian();
        }
      });
      t.buffer().write(values);
    }
  }
}
