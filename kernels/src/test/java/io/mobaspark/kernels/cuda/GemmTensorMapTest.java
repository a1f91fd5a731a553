package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The tensor-map parameters of the TMA GEMM kernel's operands (what gemm_tma.cuh's loads assume),
 * without a driver.
 */
class GemmTensorMapTest {
  // An M x N x K product with every dimension distinct: 1000 x 520 x 136.
  private static final int M = 1000;
  private static final int N = 520;
  private static final int K = 136;

  /** The map's dims (innermost first), row stride in bytes and box. */
  private static void assertMap(GemmTensorMap map, long[] dims, long strideBytes, int[] box) {
    assertArrayEquals(dims, map.globalDims(), map.describe());
    assertArrayEquals(new long[] {strideBytes}, map.globalStrideBytes(), map.describe());
    assertArrayEquals(box, map.boxDims(), map.describe());
  }

  @Test
  void kMajorOperandsComeInBoxesOfAllTheBlocksRows() {
    // a [M, K] as stored: 128 rows of A per block; b [N, K] transposed: 256 rows of B.
    assertMap(GemmTensorMap.a(M, K, false), new long[] {K, M}, 2L * K, new int[] {64, 128});
    assertMap(GemmTensorMap.b(N, K, true), new long[] {K, N}, 2L * K, new int[] {64, 256});
  }

  @Test
  void mnMajorOperandsComeInBoxesOf64Rows() {
    // a [K, M] transposed, b [K, N] as stored: 64 M (N) values by 64 K per box.
    assertMap(GemmTensorMap.a(M, K, true), new long[] {M, K}, 2L * M, new int[] {64, 64});
    assertMap(GemmTensorMap.b(N, K, false), new long[] {N, K}, 2L * N, new int[] {64, 64});
  }

  @Test
  void theFusedSwigluWeightsComeInHalfTilesOf128Rows() {
    // w_gate and w_up [F, C] of gemm_tma3st_swiglu_nt: 128 rows each per stage, K-major.
    assertMap(GemmTensorMap.bHalf(N, K), new long[] {K, N}, 2L * K, new int[] {64, 128});
  }

  @Test
  void theBf16OutputLeavesInBoxesOf64By64() {
    assertMap(GemmTensorMap.out(M, N), new long[] {N, M}, 2L * N, new int[] {64, 64});
  }

  @Test
  void boxesSpanThe128ByteSwizzleAndEveryElement() {
    GemmTensorMap a = GemmTensorMap.a(M, K, false);
    assertEquals(128, a.boxDims()[0] * 2); // bf16: the swizzle's span exactly
    assertArrayEquals(new int[] {1, 1}, a.elementStrides());
    assertEquals(3, GemmTensorMap.SWIZZLE_128B);
    assertEquals(9, GemmTensorMap.DATA_TYPE_BFLOAT16);
  }

  @Test
  void namesTheOperandShapeAndBox() {
    assertEquals("b[520, 136] box 64x256", GemmTensorMap.b(N, K, true).describe());
    assertEquals("a[136, 1000] box 64x64", GemmTensorMap.a(M, K, true).describe());
  }

  @Test
  void rejectsRowsOffSixteenBytesAndEmptyDimensions() {
    String odd = assertThrows(IllegalArgumentException.class,
        () -> GemmTensorMap.a(64, 77, false)).getMessage();
    assertTrue(odd.contains("operand a [64, 77]") && odd.contains("16 bytes"), odd);
    String empty = assertThrows(IllegalArgumentException.class,
        () -> GemmTensorMap.b(0, 64, true)).getMessage();
    assertTrue(empty.contains("operand b [0, 64]"), empty);
  }
}
