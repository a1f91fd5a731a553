package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaTimer;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.SeqLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Runs on a GPU machine without Maven: every parity check of the CUDA backend's own kernels
 * (memory ops, kconv, centroids) at MOBA.md's awkward sizes, a table of the errors against the
 * tolerance policy, then the kconv times at a training shape. Exits 1 when a check fails.
 *
 * <p>Usage: {@code .device/java io.mobaspark.kernels.lab.CudaParityLab [--small]}; {@code --small}
 * runs one small case of each kernel (for compute-sanitizer, which is slow).
 */
public final class CudaParityLab {
  private CudaParityLab() {}

  public static void main(String[] args) {
    boolean small = args.length > 0 && args[0].equals("--small");
    List<ParityCheck> checks = new ArrayList<>();
    try (CudaBackend gpu = new CudaBackend(0); CpuBackend cpu = CpuBackend.float64()) {
      System.out.println(gpu.description());
      for (String module : io.mobaspark.kernels.cuda.ModuleImages.OWN_MODULES) {
        System.out.println("  module " + module + ": " + gpu.context().module(module).file());
      }
      long seed = 1;
      checks.addAll(MemoryParity.run(gpu, small ? 1000 : 3_000_001, seed++));
      for (KeyConvParity.Case c : small ? KeyConvParity.CASES.subList(3, 4) : KeyConvParity.CASES) {
        checks.addAll(KeyConvParity.run(gpu, cpu, c, seed++));
      }
      for (CentroidParity.Case c : small ? CentroidParity.CASES.subList(3, 4) : CentroidParity.CASES) {
        checks.add(CentroidParity.run(gpu, c, seed++));
      }
      System.out.println();
      System.out.println(ParityCheck.header());
      checks.forEach(c -> System.out.println(c.row()));
      long failed = checks.stream().filter(c -> !c.passed()).count();
      System.out.println((checks.size() - failed) + " passed, " + failed + " failed");
      if (!small) {
        timeKeyConv(gpu);
      }
      if (failed > 0) {
        System.exit(1);
      }
    }
  }

  /**
   * kconv at two training shapes of 8 sequences of 8K, median of 20 runs: 16 KV heads of 64 with W = 5
   * and fp32 weights, and paper-125m.conf's 12 heads of 64 with W = 3 and the bf16 weights the trainer
   * passes (converted into the launcher's scratch copy on every call).
   */
  private static void timeKeyConv(CudaBackend gpu) {
    timeKeyConv(gpu, 16, 5, DType.F32);
    timeKeyConv(gpu, 12, 3, DType.BF16);
  }

  private static void timeKeyConv(CudaBackend gpu, int kvHeads, int width, DType weightType) {
    int tokens = 65536;
    int dim = 64;
    SeqLayout layout = SeqLayout.uniform(8, tokens / 8);
    try (Tensor k = gpu.tensor("k", tokens, kvHeads, dim);
        Tensor out = gpu.tensor("out", tokens, kvHeads, dim);
        Tensor dk = gpu.tensor("dk", tokens, kvHeads, dim);
        Tensor w = gpu.tensor("w", weightType, kvHeads, width, dim);
        Tensor dw = gpu.tensor("dw", weightType, kvHeads, width, dim);
        CudaTimer timer = new CudaTimer(gpu.context())) {
      gpu.write(k, KeyConvParity.gaussian(new java.util.Random(7), (int) k.numel(), 1));
      gpu.write(w, KeyConvParity.gaussian(new java.util.Random(8), (int) w.numel(), 0.5));
      double[] fwd = new double[20];
      double[] bwd = new double[20];
      for (int rep = -3; rep < 20; rep++) {
        timer.start();
        gpu.keyConvForward(out, k, w, layout);
        double f = timer.stopMillis();
        timer.start();
        gpu.keyConvBackward(dk, dw, out, k, w, layout);
        double b = timer.stopMillis();
        if (rep >= 0) {
          fwd[rep] = f;
          bwd[rep] = b;
        }
      }
      // The fewest bytes: forward reads k and writes out; backward reads k and dOut, writes dk.
      double forwardBytes = 2.0 * 2 * k.numel();
      double backwardBytes = 3.0 * 2 * k.numel();
      double fwdMs = median(fwd);
      double bwdMs = median(bwd);
      System.out.printf(Locale.ROOT, "%nkconv T=%d Hkv=%d D=%d W=%d w:%s: forward %.3f ms (%.0f GB/s),"
          + " backward %.3f ms (%.0f GB/s), bf16 bytes read and written once%n", tokens, kvHeads,
          dim, width, weightType.name().toLowerCase(Locale.ROOT), fwdMs, forwardBytes / fwdMs / 1e6,
          bwdMs, backwardBytes / bwdMs / 1e6);
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    java.util.Arrays.sort(s);
    return s[s.length / 2];
  }
}
