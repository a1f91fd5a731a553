package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.mobaspark.kernels.cpu.CpuBackend;
import io.mobaspark.kernels.lab.CentroidParity;
import io.mobaspark.kernels.lab.KeyConvParity;
import io.mobaspark.kernels.lab.GemmPaddingParity;
import io.mobaspark.kernels.lab.MatmulParity;
import io.mobaspark.kernels.lab.MemoryParity;
import io.mobaspark.kernels.lab.MobaParity;
import io.mobaspark.kernels.lab.OpsParity;
import io.mobaspark.kernels.lab.ParityCheck;
import io.mobaspark.kernels.lab.SwigluGemmParity;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The CUDA kernels against the CPU reference (MOBA.md's tolerance policy), through the same checks
 * as {@code CudaParityLab} and {@code MobaParity} (MoBA routing as sets with near-ties; MOBA and
 * DENSE attention O, LSE, dQ, dK, dV; forward and backward run twice). Reported as skipped, not
 * passed, where there is no GPU (CI).
 */
class CudaKernelParityTest {
  private static CudaBackend gpu;
  private static CpuBackend cpu;

  @BeforeAll
  static void open() {
    if (CudaDevice.available()) {
      gpu = new CudaBackend(0);
      cpu = CpuBackend.float64();
    }
  }

  /** Per test, so that each one is reported as skipped (an assumption in BeforeAll reports none). */
  @BeforeEach
  void requireDevice() {
    assumeTrue(gpu != null, "no CUDA device");
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
      cpu.close();
    }
  }

  private static void assertPassed(ParityCheck check) {
    assertTrue(check.passed(), check.row());
  }

  @Test
  void memoryOps() {
    MemoryParity.run(gpu, 300_001, 11).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void keyConvForwardAndBackward() {
    long seed = 21;
    for (KeyConvParity.Case c : KeyConvParity.CASES) {
      KeyConvParity.run(gpu, cpu, c, seed++).forEach(CudaKernelParityTest::assertPassed);
    }
  }

  @Test
  void blockCentroids() {
    long seed = 31;
    for (CentroidParity.Case c : CentroidParity.CASES) {
      assertPassed(CentroidParity.run(gpu, c, seed++));
    }
  }

  @Test
  void matmulAllLayouts() {
    long seed = 41;
    for (MatmulParity.Case c : MatmulParity.CASES) {
      assertPassed(MatmulParity.run(gpu, cpu, c, seed++));
    }
  }

  /**
   * out = addend + a b in one launch (tma3st reading the addend through its map; edge tiles in M and
   * N) and through the copy-and-+= fallback (fp32 out, N % 8 != 0) equals copy + matmul +=, bit for
   * bit, and leaves the addend as it was.
   */
  @Test
  void matmulAddEqualsCopyThenAccumulateBitForBit() {
    int[][] shapes = {{1000, 520, 200}, {1000, 768, 768}, {130, 36, 64}};
    for (int[] s : shapes) {
      for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
        for (boolean transB : new boolean[] {false, true}) {
          int m = s[0];
          int n = s[1];
          int k = s[2];
          String what = m + "x" + n + "x" + k + " " + dtype + (transB ? " nt" : " nn");
          java.util.Random random = new java.util.Random(m + n + k);
          try (CudaTensor a = gpu.tensor("a", DType.BF16, m, k);
              CudaTensor b = transB ? gpu.tensor("b", DType.BF16, n, k) : gpu.tensor("b", DType.BF16, k, n);
              CudaTensor addend = gpu.tensor("addend", dtype, m, n);
              CudaTensor fused = gpu.tensor("fused", dtype, m, n);
              CudaTensor reference = gpu.tensor("reference", dtype, m, n)) {
            for (CudaTensor t : new CudaTensor[] {a, b, addend, fused}) {
              double[] values = new double[(int) t.shape().numel()];
              for (int i = 0; i < values.length; i++) {
                values[i] = random.nextGaussian();
              }
              gpu.write(t, values);
            }
            float[] addendBefore = gpu.readFloats(addend);
            gpu.matmulAdd(fused, addend, a, b, false, transB);
            gpu.copy(reference, addend);
            gpu.matmul(reference, a, b, false, transB, true);
            assertArrayEquals(gpu.readFloats(reference), gpu.readFloats(fused), 0.0f, what);
            assertArrayEquals(addendBefore, gpu.readFloats(addend), 0.0f, what + " addend");
          }
        }
      }
    }
  }

  @Test
  void swigluProjectionsMatchTheUnfusedPathBitForBit() {
    long seed = 45;
    for (SwigluGemmParity.Case c : SwigluGemmParity.CASES) {
      SwigluGemmParity.Result r = SwigluGemmParity.run(gpu, c, seed++);
      assertTrue(r.passed(), r.row());
    }
  }

  @Test
  void matmulWithMisalignedRowsPaddedInChunks() {
    GemmPaddingParity.run(gpu, cpu).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void embeddingForwardAndBackward() {
    OpsParity.embeddingCases(gpu, cpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void rmsNormForwardAndBackward() {
    OpsParity.rmsNormCases(gpu, cpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void ropeForwardAndBackward() {
    OpsParity.ropeCases(gpu, cpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void swigluForwardAndBackward() {
    OpsParity.swigluCases(gpu, cpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void crossEntropyLossesAndGradient() {
    OpsParity.crossEntropyCases(gpu, cpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  @Test
  void adamwStep() {
    OpsParity.adamwCases(gpu, false).forEach(CudaKernelParityTest::assertPassed);
  }

  static Stream<Arguments> mobaCases() {
    return MobaParity.CASES.stream().map(c -> Arguments.of(c.label(), c));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mobaCases")
  void mobaRoutingAndAttention(String label, MobaParity.Case c) {
    MobaParity.run(gpu, cpu, c, c.name().hashCode()).forEach(CudaKernelParityTest::assertPassed);
  }
}
