package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.Shape;
import org.junit.jupiter.api.Test;

/** GemmCuda's checks and kernel plan run before any device call, so they are tested without a GPU. */
class GemmCudaTest {
  private static final int H200_SMS = 132;

  private static String failure(Shape out, DType outType, Shape a, DType aType, Shape b, DType bType,
      boolean transA, boolean transB) {
    return assertThrows(IllegalArgumentException.class,
        () -> GemmCuda.check(out, outType, a, aType, b, bType, transA, transB)).getMessage();
  }

  @Test
  void returnsMnkOfEveryLayout() {
    Shape out = new Shape("out", 5, 7);
    assertArrayEquals(new int[] {5, 7, 3}, GemmCuda.check(out, DType.BF16, new Shape("a", 5, 3),
        DType.BF16, new Shape("b", 3, 7), DType.BF16, false, false));
    assertArrayEquals(new int[] {5, 7, 3}, GemmCuda.check(out, DType.F32, new Shape("a", 3, 5),
        DType.BF16, new Shape("b", 7, 3), DType.BF16, true, true));
  }

  @Test
  void rejectsFp32OperandsByName() {
    String a = failure(new Shape("y", 4, 6), DType.BF16, new Shape("x", 4, 8), DType.F32,
        new Shape("W", 6, 8), DType.BF16, false, true);
    assertTrue(a.contains("operand a x[4, 8] has dtype f32") && a.contains("bf16"), a);
    String b = failure(new Shape("y", 4, 6), DType.BF16, new Shape("x", 4, 8), DType.BF16,
        new Shape("W", 6, 8), DType.F32, false, true);
    assertTrue(b.contains("operand b W[6, 8] has dtype f32"), b);
  }

  @Test
  void rejectsMismatchedShapes() {
    String inner = failure(new Shape("y", 4, 6), DType.BF16, new Shape("x", 4, 8), DType.BF16,
        new Shape("W", 6, 9), DType.BF16, false, true);
    assertTrue(inner.contains("inner dimensions differ"), inner);
    String out = failure(new Shape("y", 4, 5), DType.BF16, new Shape("x", 4, 8), DType.BF16,
        new Shape("W", 6, 8), DType.BF16, false, true);
    assertTrue(out.contains("tensor y has shape [4, 5], expected [4, 6]"), out);
    String rank = failure(new Shape("y", 4, 6), DType.BF16, new Shape("x", 2, 2, 8), DType.BF16,
        new Shape("W", 6, 8), DType.BF16, false, true);
    assertTrue(rank.contains("x[2, 2, 8] must have rank 2"), rank);
  }

  @Test
  void wgmmaOnlyOnSm90aWithSixteenByteRows() {
    GemmCuda.Family byDefault = GemmCuda.HopperKernel.DEFAULT.family();
    assertEquals(byDefault, GemmCuda.plan(4096, 768, 768, false, true, true, H200_SMS).family());
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 768, false, true, false, H200_SMS).family());
    // K odd: the rows of a (and of b transposed) start off 16 bytes.
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 767, false, true, true, H200_SMS).family());
    // a transposed is M-major: M decides; b as stored is N-major: N decides.
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(769, 768, 4096, true, false, true, H200_SMS).family());
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(768, 769, 4096, true, false, true, H200_SMS).family());
    assertEquals(byDefault, GemmCuda.plan(768, 768, 4097, true, false, true, H200_SMS).family());
  }

  @Test
  void defaultIsTheTmaKernelWithBulkStoresThatPassedOnTheGpu() {
    // Chosen by tools/device/tma-check.sh on the H200, 2026-12-02 (docs/gemm-cuda.md).
    assertEquals(GemmCuda.HopperKernel.TMA3ST, GemmCuda.HopperKernel.DEFAULT);
    assertEquals(GemmCuda.Family.TMA3ST, GemmCuda.HopperKernel.TMA3ST.family());
  }

  @Test
  void defaultKernelForEveryAlignedShapeUnlessAnotherIsAskedFor() {
    GemmCuda.Family byDefault = GemmCuda.HopperKernel.DEFAULT.family();
    GemmCuda.Family pipelined = GemmCuda.Family.WGMMA;
    GemmCuda.HopperKernel askPipelined = GemmCuda.HopperKernel.WGMMA;
    GemmCuda.HopperKernel askTma = GemmCuda.HopperKernel.TMA;
    // {M, N, K, transA, transB}: the training shapes at 64K tokens (C 768, F 3072): forward (nt),
    // input gradient (nn), weight gradient (tn), the lm head's forward; and tt.
    int[][] shapes = {{65536, 2304, 768, 0, 1}, {65536, 768, 3072, 0, 1}, {65536, 768, 3072, 0, 0},
        {65536, 3072, 768, 0, 0}, {3072, 768, 65536, 1, 0}, {16384, 50304, 768, 0, 1},
        {4096, 4096, 4096, 1, 1}};
    for (int[] s : shapes) {
      boolean transA = s[3] == 1;
      boolean transB = s[4] == 1;
      assertEquals(byDefault, GemmCuda.plan(s[0], s[1], s[2], transA, transB, true, H200_SMS).family());
      assertEquals(GemmCuda.Family.WS, GemmCuda.plan(s[0], s[1], s[2], transA, transB, true,
          GemmCuda.HopperKernel.WS, H200_SMS).family());
      assertEquals(pipelined, GemmCuda.plan(s[0], s[1], s[2], transA, transB, true, askPipelined,
          H200_SMS).family());
      assertEquals(GemmCuda.Family.TMA, GemmCuda.plan(s[0], s[1], s[2], transA, transB, true,
          askTma, H200_SMS).family());
      assertEquals(GemmCuda.Family.TMA3ST, GemmCuda.plan(s[0], s[1], s[2], transA, transB, true,
          GemmCuda.HopperKernel.TMA3ST, H200_SMS).family());
    }
    // Asking changes nothing for misaligned rows or without the sm_90a image: mma.sync.
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 767, false, true, true,
        askPipelined, H200_SMS).family());
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 768, false, true, false,
        askPipelined, H200_SMS).family());
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 767, false, true, true,
        askTma, H200_SMS).family());
    assertEquals(GemmCuda.Family.MMA, GemmCuda.plan(4096, 768, 768, false, true, false,
        askTma, H200_SMS).family());
    // The persistent kernels split the same way (same tiles).
    assertEquals(GemmCuda.plan(768, 768, 65536, true, false, true, H200_SMS).splits(),
        GemmCuda.plan(768, 768, 65536, true, false, true, askPipelined, H200_SMS).splits());
    GemmCuda.Plan defaultSplit = GemmCuda.plan(768, 768, 65536, true, false, true, H200_SMS);
    GemmCuda.Plan tmaSplit = GemmCuda.plan(768, 768, 65536, true, false, true, askTma, H200_SMS);
    assertEquals(defaultSplit.splits(), tmaSplit.splits());
    assertEquals(defaultSplit.splitDepth(), tmaSplit.splitDepth());
  }

  @Test
  void onlyTheStoringTmaKernelTakesAnOutputMapAndOnlyForTheStagedOutput() {
    GemmCuda.Family stores = GemmCuda.Family.TMA3ST;
    // Plain or accumulated bf16 (an accumulated tile is read back through the same map).
    assertTrue(GemmCuda.storesThroughOutMap(stores, 1, DType.BF16, 768));
    // Anything the consumers write from fragments: split partials, fp32, N off 8.
    assertFalse(GemmCuda.storesThroughOutMap(stores, 2, DType.BF16, 768));
    assertFalse(GemmCuda.storesThroughOutMap(stores, 1, DType.F32, 768));
    assertFalse(GemmCuda.storesThroughOutMap(stores, 1, DType.BF16, 770));
    for (GemmCuda.Family other : new GemmCuda.Family[] {GemmCuda.Family.TMA, GemmCuda.Family.WS}) {
      assertFalse(GemmCuda.storesThroughOutMap(other, 1, DType.BF16, 768));
    }
  }

  @Test
  void hopperKernelFromTheSystemProperty() {
    String before = System.getProperty(GemmCuda.HOPPER_PROPERTY);
    try {
      System.clearProperty(GemmCuda.HOPPER_PROPERTY);
      assertEquals(GemmCuda.HopperKernel.DEFAULT, GemmCuda.HopperKernel.fromProperty());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "ws");
      assertEquals(GemmCuda.HopperKernel.WS, GemmCuda.HopperKernel.fromProperty());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "wgmma");
      assertEquals(GemmCuda.HopperKernel.WGMMA, GemmCuda.HopperKernel.fromProperty());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "tma");
      assertEquals(GemmCuda.HopperKernel.TMA, GemmCuda.HopperKernel.fromProperty());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "tma3st");
      assertEquals(GemmCuda.HopperKernel.TMA3ST, GemmCuda.HopperKernel.fromProperty());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "tma");
      assertEquals(GemmCuda.Family.TMA, GemmCuda.plan(65536, 2304, 768, false, true, true,
          GemmCuda.HopperKernel.fromProperty(), H200_SMS).family());
      System.setProperty(GemmCuda.HOPPER_PROPERTY, "pair");
      String message = assertThrows(IllegalArgumentException.class,
          GemmCuda.HopperKernel::fromProperty).getMessage();
      assertTrue(message.contains(
          "mobaspark.gemm.hopper = pair: expected ws, wgmma, tma or tma3st"), message);
    } finally {
      if (before == null) {
        System.clearProperty(GemmCuda.HOPPER_PROPERTY);
      } else {
        System.setProperty(GemmCuda.HOPPER_PROPERTY, before);
      }
    }
  }

  @Test
  void splitsLongKOnlyWhenTheTilesLeaveSmsIdle() {
    // dW 768x768 over 64K tokens: 18 tiles, 7 splits fill 126 of 132 SMs.
    GemmCuda.Plan weightGrad = GemmCuda.plan(768, 768, 65536, true, false, true, H200_SMS);
    assertEquals(7, weightGrad.splits());
    assertEquals(0, weightGrad.splitDepth() % GemmCuda.SPLIT_GRANULE);
    assertTrue((long) weightGrad.splits() * weightGrad.splitDepth() >= 65536);
    assertTrue((long) (weightGrad.splits() - 1) * weightGrad.splitDepth() < 65536);
    // Forward at 64K tokens: 1536 tiles already fill the GPU.
    assertEquals(1, GemmCuda.plan(65536, 768, 3072, false, true, true, H200_SMS).splits());
    // Short K never splits below the minimum depth.
    assertEquals(1, GemmCuda.plan(128, 256, 1000, true, false, true, H200_SMS).splits());
    assertEquals(1, GemmCuda.plan(1, 1, 1, false, false, true, H200_SMS).splits());
  }

  @Test
  void everySplitKeepsTheMinimumDepth() {
    for (int k : new int[] {1024, 3000, 4097, 65536, 100_000}) {
      GemmCuda.Plan p = GemmCuda.plan(200, 200, k, true, false, true, H200_SMS);
      assertTrue(p.splits() <= GemmCuda.MAX_SPLITS, p.toString());
      assertTrue(p.splits() == 1 || k / p.splits() >= GemmCuda.MIN_SPLIT_DEPTH, p.toString());
      assertTrue((long) (p.splits() - 1) * p.splitDepth() < k, "no empty split: " + p);
    }
  }

  @Test
  void persistentWgmmaBlocksAreAtMostOnePerSm() {
    // fwd up at 64K tokens: 512 x 12 tiles walked by 132 blocks.
    assertEquals(H200_SMS, GemmCuda.persistentBlocks(512L * 12, H200_SMS));
    // dW 768x768: 18 tiles x 7 splits = 126 items, one block each.
    assertEquals(126, GemmCuda.persistentBlocks(18L * 7, H200_SMS));
    assertEquals(1, GemmCuda.persistentBlocks(1, H200_SMS));
  }
}
