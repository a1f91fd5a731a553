package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.Tensor;
import io.mobaspark.kernels.cuda.Bf16;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.CudaTensor;
import io.mobaspark.kernels.cuda.CudaTimer;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.GemmCuda;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Device rates of CudaBackend.matmul at the training shapes of a ~125M model (C 768, F 3072,
 * vocab 50304) in the model's three layouts: forward {@code y = x W^T} (nt), input gradient
 * {@code dx = dy W} (nn), weight gradient {@code dW += dy^T x} (tn, fp32 accumulated), plus tt.
 * Per shape: validate first (output poisoned with NaN, then every element finite and 64 sampled
 * elements against float64 dot products under MOBA.md's policy, with the tensor cores' precision
 * as the naive one: see {@link #tensorCoreSum}), then CUDA events around samples of as many
 * back-to-back calls as fill about 1 ms (host launch time then stops counting), 3 warm-ups, median
 * of 20, operands rotated over sets larger than L2. tools/gemm_peer.py
 * times torch.matmul (cuBLAS) the same way and prints the ratio table from this output. The
 * persistent kernel on Hopper is the warp-specialized one, the pipelined one with
 * {@code -Dmobaspark.gemm.hopper=wgmma} or the TMA-fed one with {@code =tma}
 * ({@link GemmCuda.HopperKernel}).
 */
public final class GemmLab {
  /** One training product; keep in step with tools/gemm_peer.py SHAPES. */
  record Shape(String name, int m, int n, int k, boolean transA, boolean transB, boolean fp32Accumulate) {}

  static final List<Shape> SHAPES = List.of(
      new Shape("fwd qkv T16K", 16384, 2304, 768, false, true, false),
      new Shape("fwd up T8K", 8192, 3072, 768, false, true, false),
      new Shape("fwd up T64K", 65536, 3072, 768, false, true, false),
      new Shape("fwd down T64K", 65536, 768, 3072, false, true, false),
      new Shape("dx up T64K", 65536, 768, 3072, false, false, false),
      new Shape("dx down T64K", 65536, 3072, 768, false, false, false),
      new Shape("dW attn 768x768 T64K", 768, 768, 65536, true, false, true),
      new Shape("dW up T64K", 3072, 768, 65536, true, false, true),
      new Shape("dW down T64K", 768, 3072, 65536, true, false, true),
      new Shape("fwd lmhead T16K", 16384, 50304, 768, false, true, false),
      new Shape("dx lmhead T16K", 16384, 768, 50304, false, false, false),
      new Shape("dW lmhead T16K", 50304, 768, 16384, true, false, true),
      new Shape("tt 4096", 4096, 4096, 4096, true, true, false));

  private static final int WARMUP = 3;
  private static final int REPS = 20;
  /** At most this many products per timed sample (tools/gemm_peer.py and the C++ harness: same). */
  private static final int MAX_LAUNCHES = 20;
  private static final long ROTATION_BYTES = 200L << 20;
  private static final int MAX_SETS = 4;
  private static final int SAMPLES = 64;
  /** Random bf16 values that every operand repeats from its own offset (a pool, not per-element RNG). */
  private static final int POOL = 1 << 24;

  private GemmLab() {}

  public static void main(String[] args) {
    short[] pool = LabInputs.normalBf16(POOL, 5);
    try (CudaBackend gpu = new CudaBackend(0)) {
      System.out.println(gpu.description());
      System.out.printf(Locale.ROOT, "%-22s | layout | %-22s | %-15s | %9s | %s%n", "shape", "M x N x K",
          "kernel", "median", "rate");
      boolean ok = true;
      for (Shape s : SHAPES) {
        ok &= time(gpu, s, pool);
      }
      System.out.println(ok ? "all shapes validated" : "SOME SHAPES FAILED VALIDATION");
      if (!ok) {
        System.exit(1);
      }
    }
  }

  private static boolean time(CudaBackend gpu, Shape s, short[] pool) {
    long setBytes = 2L * ((long) s.m() * s.k() + (long) s.k() * s.n());
    int sets = (int) Math.max(1, Math.min(MAX_SETS, (ROTATION_BYTES + setBytes - 1) / setBytes));
    int[] aShape = s.transA() ? new int[] {s.k(), s.m()} : new int[] {s.m(), s.k()};
    int[] bShape = s.transB() ? new int[] {s.n(), s.k()} : new int[] {s.k(), s.n()};
    DType outType = s.fp32Accumulate() ? DType.F32 : DType.BF16;
    List<Tensor> as = new ArrayList<>();
    List<Tensor> bs = new ArrayList<>();
    try (Tensor out = gpu.tensor("out", outType, s.m(), s.n());
        CudaTimer timer = new CudaTimer(gpu.context())) {
      for (int i = 0; i < sets; i++) {
        as.add(filled(gpu, "a" + i, aShape, pool, 1 + i));
        bs.add(filled(gpu, "b" + i, bShape, pool, 7 + i));
      }
      String verdict = validate(gpu, s, out, as.get(0), bs.get(0), pool);
      // A sample is `launches` products back to back between two events (sets rotating), as many as
      // fill about 1 ms, so that host launch time stops counting for short products.
      double[] ms = new double[REPS];
      int launches = 1;
      int set = 0;
      for (int rep = -WARMUP; rep < REPS; rep++) {
        timer.start();
        for (int l = 0; l < launches; l++, set = (set + 1) % sets) {
          gpu.matmul(out, as.get(set), bs.get(set), s.transA(), s.transB(), s.fp32Accumulate());
        }
        double t = timer.stopMillis();
        if (rep == -1) {
          launches = (int) Math.min(MAX_LAUNCHES, Math.max(1, Math.ceil(1.0 / t)));
        }
        if (rep >= 0) {
          ms[rep] = t / launches;
        }
      }
      double median = LabInputs.median(ms);
      double tflops = 2.0 * s.m() * s.n() * s.k() / (median * 1e-3) / 1e12;
      GemmCuda.Plan plan = GemmCuda.plan(s.m(), s.n(), s.k(), s.transA(), s.transB(),
          GemmCuda.wgmmaLoaded(gpu.context()), GemmCuda.HopperKernel.fromProperty(),
          gpu.context().device().multiprocessors());
      System.out.printf(Locale.ROOT, "%-22s | %-6s | %-22s | %-15s | %6.3f ms | %6.1f TFLOP/s | %s%n",
          s.name(), (s.transA() ? "t" : "n") + (s.transB() ? "t" : "n"),
          s.m() + " x " + s.n() + " x " + s.k(), plan.label(), median, tflops, verdict);
      return verdict.startsWith("ok");
    } finally {
      as.forEach(Tensor::close);
      bs.forEach(Tensor::close);
    }
  }

  /**
   * One product from a NaN-poisoned (or, for the fp32 accumulation, zeroed) out: every element must
   * be finite, and the sampled elements' largest error against their float64 dot products at most
   * {@code 2 * naive + 1e-5}, naive being the largest error of {@link #tensorCoreSum}.
   */
  private static String validate(CudaBackend gpu, Shape s, Tensor out, Tensor a, Tensor b, short[] pool) {
    if (s.fp32Accumulate()) {
      gpu.zero(out);
    } else {
      ((CudaTensor) out).buffer().write(nanBf16((int) out.numel()));
    }
    gpu.matmul(out, a, b, s.transA(), s.transB(), s.fp32Accumulate());
    if (!gpu.allFinite(out)) {
      return "FAIL: unwritten or non-finite elements";
    }
    Sampled got = Sampled.of((CudaTensor) out);
    SplittableRandom random = new SplittableRandom(s.name().hashCode());
    double worst = 0;
    double naiveWorst = 0;
    for (int sample = 0; sample < SAMPLES; sample++) {
      int i = random.nextInt(s.m());
      int j = random.nextInt(s.n());
      double[] products = new double[s.k()];
      double ref = 0;
      for (int p = 0; p < s.k(); p++) {
        long ai = s.transA() ? (long) p * s.m() + i : (long) i * s.k() + p;
        long bi = s.transB() ? (long) j * s.k() + p : (long) p * s.n() + j;
        products[p] = (double) value(pool, 1, ai) * value(pool, 7, bi);
        ref += products[p];
      }
      float naive = tensorCoreSum(products);
      double naiveOut = s.fp32Accumulate() ? naive : Bf16.round(naive);
      worst = Math.max(worst, Math.abs(got.at((long) i * s.n() + j) - ref));
      naiveWorst = Math.max(naiveWorst, Math.abs(naiveOut - ref));
    }
    double bound = ParityCheck.FORWARD_FACTOR * naiveWorst + ParityCheck.ABSOLUTE_SLACK;
    return String.format(Locale.ROOT, "%s max err %.2e (naive %.2e, bound %.2e)",
        worst <= bound ? "ok" : "FAIL", worst, naiveWorst, bound);
  }

  /**
   * The sum in the tensor cores' precision as modelled here: each k16 step's 16 products summed
   * exactly, then added to the fp32 accumulator rounding toward zero. An fp32 fma chain in round-
   * to-nearest was not it: at K = 16384 to 65536 the wgmma results (bf16 operands, fp32
   * accumulators) erred 2 to 12 times more than such a chain (2026-12-01, H200), as a truncating
   * accumulator does (about half an ulp of the running sum lost per step, in one direction).
   */
  static float tensorCoreSum(double[] products) {
    float acc = 0;
    for (int p0 = 0; p0 < products.length; p0 += 16) {
      double step = 0;
      for (int p = p0; p < Math.min(products.length, p0 + 16); p++) {
        step += products[p];
      }
      double exact = acc + step;
      float rounded = (float) exact;
      acc = Math.abs(rounded) > Math.abs(exact) ? Math.nextAfter(rounded, 0.0) : rounded;
    }
    return acc;
  }

  /** A tensor whose element e is {@code pool[(offset * 65537 + e) % POOL]}. */
  private static Tensor filled(CudaBackend gpu, String name, int[] shape, short[] pool, int offset) {
    CudaTensor t = (CudaTensor) gpu.tensor(name, shape);
    int n = (int) t.numel();
    short[] bits = new short[n];
    long start = (long) offset * 65537;
    IntStream.range(0, (n + POOL - 1) / POOL).parallel().forEach(c -> {
      for (int e = c * POOL, end = Math.min(n, e + POOL); e < end; e++) {
        bits[e] = pool[(int) ((start + e) % POOL)];
      }
    });
    t.buffer().write(bits);
    return t;
  }

  private static float value(short[] pool, int offset, long element) {
    return Bf16.toFloat(pool[(int) (((long) offset * 65537 + element) % POOL)]);
  }

  private static short[] nanBf16(int n) {
    short[] bits = new short[n];
    Arrays.fill(bits, Bf16.NAN);
    return bits;
  }

  /** out copied to the host in its own dtype (a 16K x 50K bf16 output is 1.6 GB, not 6.6 as doubles). */
  private record Sampled(short[] bf16, float[] f32) {
    static Sampled of(CudaTensor t) {
      if (t.dtype() == DType.BF16) {
        short[] bits = new short[(int) t.numel()];
        t.buffer().read(bits);
        return new Sampled(bits, null);
      }
      float[] values = new float[(int) t.numel()];
      t.buffer().read(values);
      return new Sampled(null, values);
    }

    double at(long element) {
      return bf16 != null ? Bf16.toFloat(bf16[(int) element]) : f32[(int) element];
    }
  }


}
