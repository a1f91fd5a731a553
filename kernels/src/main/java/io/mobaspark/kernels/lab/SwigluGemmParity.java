package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.CudaBackend;
import java.util.Arrays;
import java.util.Random;

/**
 * gemm_tma3st_swiglu_nt ({@link CudaBackend#swigluProjectionsFused}, docs/gemm-cuda.md "SwiGLU in
 * the epilogue") against the path the trainer runs today, two matmuls and
 * swigluForward: the same bits for gate, up and act (the fused epilogue rounds gate and up to bf16
 * before SwiGLU, as the unfused path stores them), and with saveGateUp off, act alone (gate and up
 * keep their NaN poison). Accuracy against float64 is the unfused path's, which MatmulParity and
 * OpsParity check.
 */
public final class SwigluGemmParity {
  /** x [t, c], w_gate and w_up [f, c]. */
  public record Case(int t, int f, int c) {
    public String label() {
      return "T " + t + " F " + f + " C " + c;
    }
  }

  /** Partial tiles in T and F (2F not a multiple of 256), K not a multiple of 64, a model width. */
  public static final Case[] CASES = {new Case(113, 200, 136), new Case(300, 2056, 200),
      new Case(1000, 520, 768)};

  /** One case's outcome: whether every comparison held, and a row that says what differed. */
  public record Result(boolean passed, String row) {}

  private SwigluGemmParity() {}

  /** Runs one case; a GPU without the fused kernel (no sm_90a image) passes with a note. */
  public static Result run(CudaBackend gpu, Case c, long seed) {
    Random random = new Random(seed);
    try (Tensor x = gpu.tensor("x", c.t(), c.c());
        Tensor wGate = gpu.tensor("w_gate", c.f(), c.c());
        Tensor wUp = gpu.tensor("w_up", c.f(), c.c());
        Tensor gate = gpu.tensor("gate", c.t(), c.f());
        Tensor up = gpu.tensor("up", c.t(), c.f());
        Tensor act = gpu.tensor("act", c.t(), c.f())) {
      gpu.write(x, KeyConvParity.gaussian(random, (int) x.numel(), 1.0));
      gpu.write(wGate, KeyConvParity.gaussian(random, (int) wGate.numel(), 0.05));
      gpu.write(wUp, KeyConvParity.gaussian(random, (int) wUp.numel(), 0.05));
      gpu.matmul(gate, x, wGate, false, true, false);
      gpu.matmul(up, x, wUp, false, true, false);
      gpu.swigluForward(act, gate, up);
      double[][] unfused = {gpu.read(gate), gpu.read(up), gpu.read(act)};

      for (Tensor t : new Tensor[] {gate, up, act}) {
        KeyConvParity.poison(gpu, t);
      }
      if (!gpu.swigluProjectionsFused(act, gate, up, x, wGate, wUp, true)) {
        return new Result(true, "swiglu gemm " + c.label() + ": not available here (unfused path)");
      }
      double[][] fused = {gpu.read(gate), gpu.read(up), gpu.read(act)};

      for (Tensor t : new Tensor[] {gate, up, act}) {
        KeyConvParity.poison(gpu, t);
      }
      gpu.swigluProjectionsFused(act, null, null, x, wGate, wUp, false);
      double[] actOnly = gpu.read(act);
      boolean untouched = Arrays.stream(gpu.read(gate)).allMatch(Double::isNaN)
          && Arrays.stream(gpu.read(up)).allMatch(Double::isNaN);

      long[] differing = {differing(fused[0], unfused[0]), differing(fused[1], unfused[1]),
          differing(fused[2], unfused[2]), differing(actOnly, unfused[2])};
      boolean passed = Arrays.stream(differing).allMatch(d -> d == 0) && untouched;
      return new Result(passed, String.format("swiglu gemm %s: elements != unfused: gate %d up %d act %d,"
          + " act-only %d, its gate/up %s", c.label(), differing[0], differing[1], differing[2],
          differing[3], untouched ? "untouched" : "WRITTEN"));
    }
  }

  /** Elements that differ, NaN counting as different from everything. */
  private static long differing(double[] a, double[] b) {
    long n = 0;
    for (int i = 0; i < a.length; i++) {
      n += Double.compare(a[i], b[i]) == 0 && !Double.isNaN(a[i]) ? 0 : 1;
    }
    return n;
  }
}
