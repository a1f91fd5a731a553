package io.mobaspark.kernels.lab;

import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.cuda.CudaBackend;
import io.mobaspark.kernels.cuda.DType;
import io.mobaspark.kernels.cuda.GemmAlignment;
import io.mobaspark.kernels.cuda.GemmCuda;
import java.util.ArrayList;
import java.util.List;

/**
 * Matmuls with misaligned rows padded onto the wgmma kernel ({@link GemmAlignment}) against the CPU
 * reference, through {@link MatmulParity}'s check: the LM head's two backward shapes over an odd
 * vocabulary, small enough for the naive reference, with the padding threshold at 0 and chunks of a
 * few tiles so that each product runs in several chunks (the last one partial). On a GPU without the
 * sm_90a image nothing is padded and the cases check the fallback instead.
 *
 * <pre>GemmPaddingParity</pre>
 */
public final class GemmPaddingParity {
  /** Padded elements per chunk in these checks: 2 or 3 chunks per product, the last one partial. */
  static final long CHUNK_ELEMENTS = 128L * 1008;

  /** nn and nt with K odd (input gradient dLogits @ W), tn with M odd (weight gradient). */
  public static final List<MatmulParity.Case> CASES = List.of(
      new MatmulParity.Case(300, 136, 1001, false, false, DType.BF16, false),
      new MatmulParity.Case(300, 137, 1001, false, true, DType.F32, true),
      new MatmulParity.Case(201, 136, 1000, true, false, DType.F32, true),
      new MatmulParity.Case(201, 136, 1000, true, false, DType.BF16, false));

  private GemmPaddingParity() {}

  /** Runs the cases on {@code gpu} with small padding chunks, then restores the defaults. */
  public static List<ParityCheck> run(CudaBackend gpu, CpuBackend ref) {
    List<ParityCheck> checks = new ArrayList<>();
    gpu.setGemmPadding(CHUNK_ELEMENTS, 0);
    try {
      long seed = 41;
      for (MatmulParity.Case c : CASES) {
        GemmAlignment.Case padding = GemmAlignment.plan(c.m(), c.n(), c.k(), c.transA(),
            c.transB(), GemmCuda.wgmmaLoaded(gpu.context()), 0);
        ParityCheck check = MatmulParity.run(gpu, ref, c, seed++);
        checks.add(new ParityCheck(check.op(), check.shape() + " pad " + padding, check.tensor(),
            check.kernelError(), check.naiveError(), check.bound(), check.deterministic()));
      }
    } finally {
      gpu.setGemmPadding(GemmAlignment.CHUNK_ELEMENTS, GemmAlignment.MIN_FLOPS);
    }
    return checks;
  }

  public static void main(String[] args) {
    try (CudaBackend gpu = new CudaBackend(0); CpuBackend ref = CpuBackend.float64()) {
      List<ParityCheck> checks = run(gpu, ref);
      checks.forEach(c -> System.out.println(c.row()));
      long failed = checks.stream().filter(c -> !c.passed()).count();
      System.out.println(failed == 0 ? "all " + checks.size() + " padded matmul checks pass"
          : failed + " of " + checks.size() + " padded matmul checks FAIL");
      System.exit(failed == 0 ? 0 : 1);
    }
  }
}
