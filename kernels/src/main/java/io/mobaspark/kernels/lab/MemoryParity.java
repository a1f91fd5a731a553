package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.Bf16;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The CUDA backend's memory ops against exact expectations: each is one rounding of an exact
 * result (or a float64 sum), so the bound is 0 except for the sum of squares (relative 1e-12).
 * Sizes straddle the grid-stride cap, so every thread strides more than once.
 */
public final class MemoryParity {
  private MemoryParity() {}

  public static List<ParityCheck> run(CudaBackend gpu, int n, long seed) {
    Random random = new Random(seed);
    double[] a = KeyConvParity.gaussian(random, n, 3.0);
    double[] b = KeyConvParity.gaussian(random, n, 3.0);
    String shape = "n=" + n;
    List<ParityCheck> checks = new ArrayList<>();
    try (Tensor x16 = gpu.tensor("x16", DType.BF16, n);
        Tensor y16 = gpu.tensor("y16", DType.BF16, n);
        Tensor x32 = gpu.tensor("x32", DType.F32, n);
        Tensor y32 = gpu.tensor("y32", DType.F32, n)) {
      double[] a16 = KeyConvParity.stored(gpu, x16, a);
      double[] b32 = KeyConvParity.stored(gpu, y32, b);
      checks.add(exact("write", shape, "bf16", a16, map(a, Bf16::round)));
      checks.add(exact("write", shape, "f32", b32, map(b, v -> (float) v)));

      gpu.copy(x32, x16); // bf16 -> f32 is exact
      checks.add(exact("copy", shape, "f32<bf16", gpu.read(x32), a16));
      gpu.copy(y16, y32); // f32 -> bf16 rounds once
      checks.add(exact("copy", shape, "bf16<f32", gpu.read(y16), map(b32, Bf16::round)));

      gpu.addInPlace(x32, y32); // fp32 add of two floats: one rounding
      double[] sum = gpu.read(x32);
      double[] expected = new double[n];
      for (int i = 0; i < n; i++) {
        expected[i] = (float) (a16[i] + b32[i]);
      }
      checks.add(exact("add", shape, "f32+=f32", sum, expected));

      gpu.scale(x32, 0.37);
      checks.add(exact("scale", shape, "f32", gpu.read(x32), map(sum, v -> (float) (v * 0.37))));

      double squares = 0;
      for (double v : a16) {
        squares += v * v;
      }
      double got = gpu.sumOfSquares(x16);
      checks.add(new ParityCheck("sumSq", shape, "bf16", Math.abs(got - squares), 0,
          1e-12 * squares, gpu.sumOfSquares(x16) == got));

      // The batched sums equal the single ones bit for bit (same kernels, same grid), in order.
      double[] batched = gpu.sumsOfSquares(java.util.List.of(y32, x16, y32));
      double single32 = gpu.sumOfSquares(y32);
      checks.add(new ParityCheck("sumsSq", shape, "f32,bf16,f32",
          Math.max(Math.abs(batched[0] - single32), Math.abs(batched[1] - got)), 0, 0,
          batched[2] == batched[0]));

      // Several fp32 tensors take the chunked kernels: other order, the same sums within 1e-12.
      double[] chunked = gpu.sumsOfSquares(java.util.List.of(x32, y32));
      double singleX = gpu.sumOfSquares(x32);
      double chunkedError = Math.max(Math.abs(chunked[0] - singleX) / singleX,
          Math.abs(chunked[1] - single32) / single32);
      checks.add(new ParityCheck("sumsSq", shape, "f32,f32 chunked", chunkedError, 0, 1e-12,
          java.util.Arrays.equals(gpu.sumsOfSquares(java.util.List.of(x32, y32)), chunked)));

      boolean finiteBefore = gpu.allFinite(x16);
      double[] withNan = a16.clone();
      withNan[n - 1] = Double.POSITIVE_INFINITY;
      gpu.write(x16, withNan);
      boolean finiteAfter = gpu.allFinite(x16);
      checks.add(new ParityCheck("allFinite", shape, "bf16", finiteBefore && !finiteAfter ? 0 : 1, 0,
          0, true));
    }
    return checks;
  }

  private static ParityCheck exact(String op, String shape, String tensor, double[] got,
      double[] expected) {
    return new ParityCheck(op, shape, tensor, ParityCheck.maxAbsDiff(got, expected), 0, 0, true);
  }

  private static double[] map(double[] v, java.util.function.DoubleUnaryOperator f) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = f.applyAsDouble(v[i]);
    }
    return out;
  }
}
