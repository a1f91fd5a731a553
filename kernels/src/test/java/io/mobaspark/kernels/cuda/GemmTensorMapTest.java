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

  @Test
  void aAsStoredIsKMajorInBoxesOfTheBlocksRows() {
    GemmTensorMap a = GemmTensorMap.a(M, K, false); // [M, K]
    assertArrayEquals(new long[] {K, M}, a.globalDims());
    assertArrayEquals(new long[] {2L * K}, a.globalStrideBytes());
    assertArrayEquals(new int[] {64, 128}, a.boxDims());
  }

  @Test
  void aTransposedIsMMajorInBoxesOf64Rows() {
    GemmTensorMap a = GemmTensorMap.a(M, K, true); // [K, M]
    assertArrayEquals(new long[] {M, K}, a.globalDims());
    assertArrayEquals(new long[] {2L * M}, a.globalStrideBytes());
    assertArrayEquals(new int[] {64, 64}, a.boxDims());
  }

  @Test
  void bAsStoredIsNMajorInBoxesOf64Rows() {
    GemmTensorMap b = GemmTensorMap.b(N, K, false); // [K, N]
    assertArrayEquals(new long[] {N, K}, b.globalDims());
    assertArrayEquals(new long[] {2L * N}, b.globalStrideBytes());
    assertArrayEquals(new int[] {64, 64}, b.boxDims());
  }

  @Test
  void bTransposedIsKMajorInBoxesOfTheBlocksColumns() {
    GemmTensorMap b = GemmTensorMap.b(N, K, true); // [N, K]
    assertArrayEquals(new long[] {K, N}, b.globalDims());
    assertArrayEquals(new long[] {2L * K}, b.globalStrideBytes());
    assertArrayEquals(new int[] {64, 256}, b.boxDims());
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
