package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * kconv forward and backward of the CUDA backend against the float64 CPU reference (KeyConvCpu)
 * and the float32 naive version, on fresh random inputs, with the outputs poisoned (NaN) first and
 * the backward run twice to catch races (it must repeat bitwise: dWeight has no atomics).
 */
public final class KeyConvParity {
  /** One problem: packed layout, KV heads, head dim, width, dtype of the weight and its gradient. */
  public record Case(int[] cuSeqlens, int kvHeads, int dim, int width, DType weightType) {
    public String label() {
      int[] cu = cuSeqlens;
      return String.format(Locale.ROOT, "T=%d S=%d Hkv=%d D=%d W=%d w:%s", cu[cu.length - 1],
          cu.length - 1, kvHeads, dim, width, weightType.name().toLowerCase(Locale.ROOT));
    }
  }

  /** MOBA.md's awkward sizes: one token, 113, 1023, varlen with 1-token documents, one head. */
  public static final List<Case> CASES = List.of(
      new Case(new int[] {0, 1}, 1, 64, 3, DType.F32),
      new Case(new int[] {0, 113}, 2, 64, 5, DType.F32),
      new Case(new int[] {0, 1023}, 1, 128, 3, DType.F32),
      new Case(new int[] {0, 1, 60, 61, 300}, 2, 128, 5, DType.BF16),
      new Case(new int[] {0, 2, 5, 8192, 8193, 20000}, 2, 64, 5, DType.F32));

  private KeyConvParity() {}

  /** The three checks (out, dk, dWeight) of one case. */
  public static List<ParityCheck> run(CudaBackend gpu, CpuBackend ref, Case c, long seed) {
    SeqLayout layout = SeqLayout.of(c.cuSeqlens());
    int tokens = layout.totalTokens();
    int[] kShape = {tokens, c.kvHeads(), c.dim()};
    int[] wShape = {c.kvHeads(), c.width(), c.dim()};
    Random random = new Random(seed);
    String label = c.label();

    try (Tensor k = gpu.tensor("k", kShape);
        Tensor out = gpu.tensor("kconv_out", kShape);
        Tensor dOut = gpu.tensor("dOut", kShape);
        Tensor dk = gpu.tensor("dk", kShape);
        Tensor weight = gpu.tensor("kconv_weight", c.weightType(), wShape);
        Tensor dWeight = gpu.tensor("kconv_dWeight", c.weightType(), wShape)) {
      // The device's rounded inputs are what both references see.
      double[] kq = stored(gpu, k, gaussian(random, tokens * c.kvHeads() * c.dim(), 1.0));
      double[] wq = stored(gpu, weight, gaussian(random, (int) weight.numel(), 0.5));
      double[] dOutq = stored(gpu, dOut, gaussian(random, tokens * c.kvHeads() * c.dim(), 1.0));
      double[] dwInitial = gaussian(random, (int) weight.numel(), 0.1);

      poison(gpu, out);
      gpu.keyConvForward(out, k, weight, layout);
      double[] outGpu = gpu.read(out);

      double[] dwq = stored(gpu, dWeight, dwInitial);
      poison(gpu, dk);
      gpu.keyConvBackward(dk, dWeight, dOut, k, weight, layout);
      double[] dkGpu = gpu.read(dk);
      double[] dwGpu = gpu.read(dWeight);
      gpu.write(dWeight, dwq);
      poison(gpu, dk);
      gpu.keyConvBackward(dk, dWeight, dOut, k, weight, layout);
      boolean repeats = Arrays.equals(dkGpu, gpu.read(dk)) && Arrays.equals(dwGpu, gpu.read(dWeight));

      double[][] ref64 = reference(ref, kq, wq, dOutq, dwq, kShape, wShape, layout);
      double[] outNaive = KeyConvNaive.forward(kq, wq, c.kvHeads(), c.dim(), c.width(), layout);
      double[][] bwdNaive = KeyConvNaive.backward(dOutq, kq, wq, dwq, c.kvHeads(), c.dim(), c.width(),
          layout);
      if (c.weightType() == DType.BF16) {
        bwdNaive[1] = Arrays.stream(bwdNaive[1]).map(io.mobaspark.kernels.cuda.Bf16::round).toArray();
      }
      return List.of(
          ParityCheck.of("kconv.fwd", label, "out", outGpu, outNaive, ref64[0],
              ParityCheck.FORWARD_FACTOR, true),
          ParityCheck.of("kconv.bwd", label, "dk", dkGpu, bwdNaive[0], ref64[1],
              ParityCheck.GRADIENT_FACTOR, repeats),
          ParityCheck.of("kconv.bwd", label, "dWeight", dwGpu, bwdNaive[1], ref64[2],
              ParityCheck.GRADIENT_FACTOR, repeats));
    }
  }

  /** {out, dk, dWeight} of the CPU backend (float64) on the given inputs. */
  private static double[][] reference(CpuBackend cpu, double[] k, double[] w, double[] dOut,
      double[] dwInitial, int[] kShape, int[] wShape, SeqLayout layout) {
    try (Tensor kt = cpu.tensor("k", kShape);
        Tensor wt = cpu.tensor("w", wShape);
        Tensor out = cpu.tensor("out", kShape);
        Tensor dOutT = cpu.tensor("dOut", kShape);
        Tensor dk = cpu.tensor("dk", kShape);
        Tensor dw = cpu.tensor("dw", wShape)) {
      cpu.write(kt, k);
      cpu.write(wt, w);
      cpu.write(dOutT, dOut);
      cpu.write(dw, dwInitial);
      cpu.keyConvForward(out, kt, wt, layout);
      cpu.keyConvBackward(dk, dw, dOutT, kt, wt, layout);
      return new double[][] {cpu.read(out), cpu.read(dk), cpu.read(dw)};
    }
  }

  /** Writes {@code values} and returns what the tensor stores (rounded to its dtype). */
  static double[] stored(CudaBackend gpu, Tensor t, double[] values) {
    gpu.write(t, values);
    return gpu.read(t);
  }

  /** Fills {@code t} with NaN, so that an element the kernel fails to write fails the check. */
  static void poison(CudaBackend gpu, Tensor t) {
    double[] nan = new double[(int) t.numel()];
    Arrays.fill(nan, Double.NaN);
    gpu.write(t, nan);
  }

  static double[] gaussian(Random random, int n, double sigma) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = sigma * random.nextGaussian();
    }
    return v;
  }
}
