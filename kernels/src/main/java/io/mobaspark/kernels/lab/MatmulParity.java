package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.Bf16;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.GemmCuda;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * {@code matmul} of the CUDA backend against the float64 CPU backend (MatmulCpu) and a naive
 * float32 version (bf16 inputs, one fp32 sum per element in increasing k, rounded to out's dtype)
 * under MOBA.md's forward tolerance, on fresh random inputs, at awkward shapes in all four
 * transpose combinations: one element, 113x203x77, a single output column, K and N odd (the
 * mma.sync fallback), M odd with an edge tile in N, aligned shapes (wgmma on Hopper), more
 * output tiles than SMs (a second wave of blocks) and a long K that is split. On Hopper every
 * aligned product runs on every persistent kernel: the warp-specialized one the launcher picks,
 * the pipelined one and the two TMA-fed ones (operands through tensor maps; tma3st also stores a
 * plain bf16 output through one). A non-accumulating
 * output is poisoned (NaN) first; every product runs twice and must repeat bitwise.
 */
public final class MatmulParity {
  /**
   * One product; {@code outType} and {@code accumulate} describe out, {@code hopper} the persistent
   * kernel an aligned product runs on sm_90a.
   */
  public record Case(int m, int n, int k, boolean transA, boolean transB, DType outType,
      boolean accumulate, GemmCuda.HopperKernel hopper) {
    /** On the launcher's default kernel. */
    public Case(int m, int n, int k, boolean transA, boolean transB, DType outType,
        boolean accumulate) {
      this(m, n, k, transA, transB, outType, accumulate, GemmCuda.HopperKernel.DEFAULT);
    }

    public String label() {
      return String.format(Locale.ROOT, "%s%s %dx%dx%d %s%s", transA ? "t" : "n", transB ? "t" : "n",
          m, n, k, outType.name().toLowerCase(Locale.ROOT), accumulate ? " +=" : " =");
    }

    /** The same product on another persistent kernel. */
    Case on(GemmCuda.HopperKernel kernel) {
      return new Case(m, n, k, transA, transB, outType, accumulate, kernel);
    }
  }

  /** {M, N, K} of the awkward shapes; each runs in the four layouts with rotating out settings. */
  private static final int[][] SIZES = {
      {1, 1, 1}, {113, 203, 77}, {1023, 1, 65}, {64, 33, 37}, {1001, 520, 136}, {200, 264, 1032},
      {2048, 2304, 72}, {136, 264, 3000}};

  public static final List<Case> CASES = cases();

  private MatmulParity() {}

  private static List<Case> cases() {
    List<Case> cases = new ArrayList<>();
    for (int size = 0; size < SIZES.length; size++) {
      int[] s = SIZES[size];
      for (int layout = 0; layout < 4; layout++) {
        // Every layout meets each (dtype, accumulate) pair across the sizes.
        int variant = (layout + size) % 4;
        Case c = new Case(s[0], s[1], s[2], (layout & 2) != 0, (layout & 1) != 0,
            variant % 2 == 0 ? DType.BF16 : DType.F32, variant >= 2);
        cases.add(c);
        if (GemmCuda.rowsAligned(c.m(), c.n(), c.k(), c.transA(), c.transB())) {
          cases.add(c.on(GemmCuda.HopperKernel.WGMMA));
          cases.add(c.on(GemmCuda.HopperKernel.TMA));
          cases.add(c.on(GemmCuda.HopperKernel.TMA3ST));
        }
      }
    }
    // tma3st's read-back epilogue (bf16 +=, one split, N % 8 == 0) at edge tiles in M and N, in
    // every layout: the sizes above reach it only at full tiles.
    for (int layout = 0; layout < 4; layout++) {
      cases.add(new Case(1000, 520, 200, (layout & 2) != 0, (layout & 1) != 0, DType.BF16, true,
          GemmCuda.HopperKernel.TMA3ST));
    }
    return List.copyOf(cases);
  }

  /** The check of out for one case; its label names the kernel plan the launcher chose. */
  public static ParityCheck run(CudaBackend gpu, CpuBackend ref, Case c, long seed) {
    int[] aShape = c.transA() ? new int[] {c.k(), c.m()} : new int[] {c.m(), c.k()};
    int[] bShape = c.transB() ? new int[] {c.n(), c.k()} : new int[] {c.k(), c.n()};
    Random random = new Random(seed);
    GemmCuda.Plan plan = GemmCuda.plan(c.m(), c.n(), c.k(), c.transA(), c.transB(),
        GemmCuda.wgmmaLoaded(gpu.context()), c.hopper(), gpu.context().device().multiprocessors());
    try (Tensor a = gpu.tensor("a", aShape);
        Tensor b = gpu.tensor("b", bShape);
        Tensor out = gpu.tensor("out", c.outType(), c.m(), c.n())) {
      double[] aq = KeyConvParity.stored(gpu, a, KeyConvParity.gaussian(random, (int) a.numel(), 1.0));
      double[] bq = KeyConvParity.stored(gpu, b, KeyConvParity.gaussian(random, (int) b.numel(), 1.0));
      double[] initial = c.accumulate()
          ? KeyConvParity.stored(gpu, out, KeyConvParity.gaussian(random, c.m() * c.n(), 1.0))
          : null;

      double[] first = product(gpu, out, a, b, c, initial);
      double[] second = product(gpu, out, a, b, c, initial);
      boolean repeats = Arrays.equals(first, second);

      double[] ref64 = reference(ref, aq, bq, initial, aShape, bShape, c);
      double[] naive = naive(aq, bq, initial, c);
      return ParityCheck.of("matmul", c.label() + " " + plan.label(), "out", first, naive, ref64,
          ParityCheck.FORWARD_FACTOR, repeats);
    }
  }

  /** One GPU product from the given start (NaN when not accumulating); returns out. */
  private static double[] product(CudaBackend gpu, Tensor out, Tensor a, Tensor b, Case c,
      double[] initial) {
    if (initial != null) {
      gpu.write(out, initial);
    } else {
      KeyConvParity.poison(gpu, out);
    }
    gpu.setGemmKernel(c.hopper());
    gpu.matmul(out, a, b, c.transA(), c.transB(), c.accumulate());
    gpu.setGemmKernel(GemmCuda.HopperKernel.fromProperty());
    return gpu.read(out);
  }

  private static double[] reference(CpuBackend cpu, double[] a, double[] b, double[] initial,
      int[] aShape, int[] bShape, Case c) {
    try (Tensor at = cpu.tensor("a", aShape);
        Tensor bt = cpu.tensor("b", bShape);
        Tensor out = cpu.tensor("out", c.m(), c.n())) {
      cpu.write(at, a);
      cpu.write(bt, b);
      if (initial != null) {
        cpu.write(out, initial);
      }
      cpu.matmul(out, at, bt, c.transA(), c.transB(), c.accumulate());
      return cpu.read(out);
    }
  }

  /**
   * The kernel's precision with another order: one fp32 fma chain per element, rounded to out. Rows
   * in parallel (each element's chain stays sequential, so the result does not depend on threads):
   * single-threaded it took 15 of the 19 CPU seconds of the 74 cases.
   */
  static double[] naive(double[] a, double[] b, double[] initial, Case c) {
    int m = c.m();
    int n = c.n();
    int k = c.k();
    double[] out = new double[m * n];
    IntStream.range(0, m).parallel().forEach(i -> {
      for (int j = 0; j < n; j++) {
        float sum = 0;
        for (int p = 0; p < k; p++) {
          float x = (float) a[c.transA() ? p * m + i : i * k + p];
          float y = (float) b[c.transB() ? j * k + p : p * n + j];
          sum = Math.fma(x, y, sum);
        }
        float value = initial == null ? sum : (float) initial[i * n + j] + sum;
        out[i * n + j] = c.outType() == DType.BF16 ? Bf16.round(value) : value;
      }
    });
    return out;
  }

  /** Runs every case and prints the table; exit status 1 when any fails. */
  public static void main(String[] args) {
    try (CudaBackend gpu = new CudaBackend(0); CpuBackend cpu = CpuBackend.float64()) {
      System.out.println(gpu.description());
      System.out.println(ParityCheck.header());
      long seed = 41;
      boolean ok = true;
      for (Case c : CASES) {
        ParityCheck check = run(gpu, cpu, c, seed++);
        System.out.println(check.row());
        ok &= check.passed();
      }
      System.out.println(ok ? "all matmul checks passed" : "SOME MATMUL CHECKS FAILED");
      if (!ok) {
        System.exit(1);
      }
    }
  }
}
