package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.kernels.SeqLayout;
import io.mobaspark.kernels.Shape;
import org.junit.jupiter.api.Test;

/** The launchers' checks run before any device call, so they are tested without a GPU. */
class KernelValidationTest {
  private static final SeqLayout LAYOUT = SeqLayout.of(0, 1, 10);

  private static String kconvFailure(Shape k, DType kType, Shape w, DType wType, Shape out, DType outType) {
    return assertThrows(IllegalArgumentException.class,
        () -> KeyConvCuda.check(k, kType, w, wType, out, outType, "kconv output", LAYOUT)).getMessage();
  }

  @Test
  void kconvAcceptsWidthsUpToFive() {
    Shape k = new Shape("k", 10, 2, 64);
    assertEquals(5, KeyConvCuda.check(k, DType.BF16, new Shape("w", 2, 5, 64), DType.F32,
        new Shape("out", 10, 2, 64), DType.BF16, "kconv output", LAYOUT));
    assertEquals(3, KeyConvCuda.check(k, DType.BF16, new Shape("w", 2, 3, 64), DType.BF16,
        new Shape("out", 10, 2, 64), DType.BF16, "kconv output", LAYOUT));
  }

  @Test
  void kconvNamesTheOffendingTensor() {
    Shape k = new Shape("k", 10, 2, 64);
    Shape w = new Shape("kconv_weight", 2, 3, 64);
    Shape out = new Shape("out", 10, 2, 64);
    String wide = kconvFailure(k, DType.BF16, new Shape("kconv_weight", 2, 7, 64), DType.F32, out, DType.BF16);
    assertTrue(wide.contains("kconv_weight[2, 7, 64]") && wide.contains("widths 1 to 5"), wide);
    String dim = kconvFailure(new Shape("k", 10, 2, 63), DType.BF16, new Shape("w", 2, 3, 63), DType.F32,
        new Shape("out", 10, 2, 63), DType.BF16);
    assertTrue(dim.contains("k[10, 2, 63]") && dim.contains("even head dim"), dim);
    String dtype = kconvFailure(k, DType.F32, w, DType.F32, out, DType.BF16);
    assertTrue(dtype.contains("tensor k[10, 2, 64] (kconv keys) must be bf16"), dtype);
    String outType = kconvFailure(k, DType.BF16, w, DType.F32, out, DType.F32);
    assertTrue(outType.contains("tensor out[10, 2, 64] (kconv output) must be bf16"), outType);
    String shape = kconvFailure(k, DType.BF16, w, DType.F32, new Shape("out", 10, 2, 32), DType.BF16);
    assertTrue(shape.contains("out") && shape.contains("expected [10, 2, 64]"), shape);
    String heads = kconvFailure(k, DType.BF16, new Shape("kconv_weight", 1, 3, 64), DType.F32, out,
        DType.BF16);
    assertTrue(heads.contains("kconv_weight"), heads);
    String tokens = kconvFailure(new Shape("k", 9, 2, 64), DType.BF16, w, DType.F32,
        new Shape("out", 9, 2, 64), DType.BF16);
    assertTrue(tokens.contains("9 tokens") && tokens.contains("10"), tokens);
  }

  @Test
  void centroidsCheckTheBlockCountAndDtypes() {
    Shape k = new Shape("k", 10, 2, 64);
    // Sequences of 1 and 9 tokens with B = 4: 1 + 3 blocks.
    assertEquals(4, CentroidsCuda.check(new Shape("c", 4, 2, 64), DType.F32, k, DType.BF16, 4, LAYOUT));
    String count = assertThrows(IllegalArgumentException.class, () -> CentroidsCuda.check(
        new Shape("c", 3, 2, 64), DType.F32, k, DType.BF16, 4, LAYOUT)).getMessage();
    assertTrue(count.contains("tensor c has shape [3, 2, 64], expected [4, 2, 64]"), count);
    String dtype = assertThrows(IllegalArgumentException.class, () -> CentroidsCuda.check(
        new Shape("c", 4, 2, 64), DType.BF16, k, DType.BF16, 4, LAYOUT)).getMessage();
    assertTrue(dtype.contains("(centroids) must be f32"), dtype);
    String block = assertThrows(IllegalArgumentException.class, () -> CentroidsCuda.check(
        new Shape("c", 4, 2, 64), DType.F32, k, DType.BF16, 0, LAYOUT)).getMessage();
    assertTrue(block.contains("block_size must be positive, got 0"), block);
  }

  @Test
  void blockOffsetsCountPartialBlocks() {
    assertArrayEquals(new int[] {0, 1, 4}, DeviceLayout.blockOffsets(LAYOUT, 4));
    assertArrayEquals(new int[] {0, 1, 2}, DeviceLayout.blockOffsets(LAYOUT, 128));
  }

  @Test
  void backwardChunkingDependsOnTokensAlone() {
    assertEquals(KeyConvCuda.MIN_BACKWARD_RUN, KeyConvCuda.backwardRun(1));
    assertEquals(KeyConvCuda.MIN_BACKWARD_RUN, KeyConvCuda.backwardRun(8192));
    int run = KeyConvCuda.backwardRun(1 << 20);
    assertEquals(2048, run);
    assertTrue((1 << 20) / run <= KeyConvCuda.MAX_CHUNKS);
  }

  @Test
  void memoryGridDependsOnTheElementCountAlone() {
    assertEquals(1, CudaMemoryOps.blocks(1));
    assertEquals(1, CudaMemoryOps.blocks(1024));
    assertEquals(2, CudaMemoryOps.blocks(1025));
    assertEquals(CudaMemoryOps.MAX_BLOCKS, CudaMemoryOps.blocks(1L << 40));
  }
}
