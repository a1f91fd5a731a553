package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.AttentionConfig;
import io.mobaspark.kernels.IntTensor;
import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaTensor;
import io.mobaspark.kernels.cuda.CudaTimer;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.MobaSlicing;
import java.util.Locale;

/**
 * Device times of the Java path (CudaBackend's mobaRoute, attentionForward, attentionBackward, each
 * with its list build and launches) at the paper's shape: batch 2, 16 heads, D = 128, B = 128,
 * k = 8, and dense at 8K, with the policy's slice counts. CUDA events, 2 warm-up runs, median of
 * 10; random normal inputs. Run only after the parity checks pass. Comparable with
 * moba_harness's table in docs/perf/moba.md, whose forward excludes the list build that each Java
 * call includes. {@link #printSliding} times SLIDING at the shape of tools/swa_peer.py.
 */
final class MobaTiming {
  private static final int WARMUP = 2;
  private static final int REPS = 10;

  private MobaTiming() {}

  static void print(CudaBackend gpu) {
    System.out.println();
    System.out.println("   N  attention        route ms   fwd ms   bwd ms  slices f/b  (batch 2, H 16, D 128)");
    for (int n : new int[] {8192, 32768, 65536}) {
      time(gpu, n, AttentionConfig.moba(16, 16, 128, 128, 8));
    }
    time(gpu, 8192, AttentionConfig.dense(16, 16, 128));
  }

  /**
   * SLIDING (and DENSE for scale) at one sequence of 8K tokens, 12 heads, D = 64, windows 256
   * (paper-125m.conf's), 512 and 1024: the shape tools/swa_peer.py times FlexAttention / FA2 at; then
   * W = 256 at the trainer's batch of 8 such sequences. TFLOP/s count 4·D flops per attended
   * (query, key) pair forward and 10·D backward (FA2's convention).
   */
  static void printSliding(CudaBackend gpu) {
    int n = 8192;
    System.out.println();
    System.out.println("   N  attention        fwd ms   bwd ms  fwd+bwd ms  fwd / bwd TFLOP/s  (H 12, D 64)");
    for (AttentionConfig c : new AttentionConfig[] {AttentionConfig.sliding(12, 12, 64, 256),
        AttentionConfig.sliding(12, 12, 64, 512),
        AttentionConfig.sliding(12, 12, 64, 1024), AttentionConfig.dense(12, 12, 64)}) {
      timeSliding(gpu, c, 1, n);
    }
    timeSliding(gpu, AttentionConfig.sliding(12, 12, 64, 256), 8, n);
  }

  private static void timeSliding(CudaBackend gpu, AttentionConfig c, int batch, int n) {
    SeqLayout layout = SeqLayout.uniform(batch, n);
    double[] ms = measure(gpu, layout, c, n);
    long w = c.window() > 0 ? Math.min(c.window(), n) : n;
    double pairs = batch * ((double) w * n - w * (w - 1) / 2.0); // rows' min(pos + 1, w), summed
    double flop = pairs * c.heads() * c.headDim();
    String kind = (c.window() > 0 ? "sliding W=" + c.window() : "dense") + (batch > 1 ? " x" + batch : "");
    System.out.printf(Locale.ROOT, "%6d  %-15s %8.3f %8.3f %10.3f  %6.0f / %4.0f%n", n, kind, ms[1],
        ms[2], ms[1] + ms[2], 4 * flop / ms[1] / 1e9, 10 * flop / ms[2] / 1e9);
  }

  private static void time(CudaBackend gpu, int n, AttentionConfig c) {
    SeqLayout layout = SeqLayout.uniform(2, n);
    double[] ms = measure(gpu, layout, c, n);
    boolean moba = c.topk() > 0;
    String kind = moba ? "moba B=" + c.blockSize() + " k=" + c.topk() : "dense";
    MobaSlicing slicing = MobaSlicing.of(c, layout, MobaSlicing.budget(c, layout));
    System.out.printf(Locale.ROOT, "%6d  %-15s %8.3f %8.3f %8.3f %6d/%d%n", n, kind, ms[0], ms[1],
        ms[2], slicing.forward().size(), slicing.backward().size());
  }

  /** Median route, forward and backward milliseconds of {@code c} on random inputs ({@code seed}). */
  private static double[] measure(CudaBackend gpu, SeqLayout layout, AttentionConfig c, long seed) {
    int tokens = layout.totalTokens();
    int[] shape = {tokens, c.heads(), c.headDim()};
    boolean moba = c.topk() > 0;
    try (Tensor q = gpu.tensor("q", shape); Tensor k = gpu.tensor("k", shape);
        Tensor v = gpu.tensor("v", shape); Tensor dOut = gpu.tensor("dOut", shape);
        Tensor out = gpu.tensor("out", shape); Tensor lse = gpu.tensor("lse", DType.F32, c.heads(), tokens);
        Tensor dq = gpu.tensor("dq", shape); Tensor dk = gpu.tensor("dk", shape);
        Tensor dv = gpu.tensor("dv", shape);
        IntTensor routing = moba ? gpu.intTensor("routing", c.heads(), tokens, c.topk()) : null;
        CudaTimer timer = new CudaTimer(gpu.context())) {
      Tensor[] inputs = {q, k, v, dOut};
      for (int i = 0; i < inputs.length; i++) {
        short[] values = LabInputs.normalBf16((int) inputs[i].numel(), seed * 4L + i);
        ((CudaTensor) inputs[i]).buffer().write(values);
      }
      double[][] ms = new double[3][REPS];
      for (int rep = -WARMUP; rep < REPS; rep++) {
        timer.start();
        if (moba) {
          gpu.mobaRoute(routing, q, k, c, layout);
        }
        double route = timer.stopMillis();
        timer.start();
        gpu.attentionForward(out, lse, q, k, v, routing, c, layout);
        double fwd = timer.stopMillis();
        timer.start();
        gpu.attentionBackward(dq, dk, dv, dOut, q, k, v, out, lse, routing, c, layout);
        double bwd = timer.stopMillis();
        if (rep >= 0) {
          ms[0][rep] = route;
          ms[1][rep] = fwd;
          ms[2][rep] = bwd;
        }
      }
      return new double[] {
          LabInputs.median(ms[0]), LabInputs.median(ms[1]), LabInputs.median(ms[2])};
    }
  }
}
