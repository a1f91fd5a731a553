package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.mobaspark.kernels.cuda.GemmAlignment.Case;
import org.junit.jupiter.api.Test;

/** Which products GemmAlignment pads, and its chunk sizes; no GPU needed. */
class GemmAlignmentTest {
  private static final double AT_ANY_SIZE = 0;

  @Test
  void theLmHeadsBackwardProductsArePaddedOnHopper() {
    int tokens = 65536;
    int vocab = 50257;
    int c = 768;
    // dx = dLogits [T, V] @ W [V, C]: K = V misaligned.
    assertEquals(Case.PAD_K, GemmAlignment.plan(tokens, c, vocab, false, false, true,
        GemmAlignment.MIN_FLOPS));
    // dW += dLogits^T [V, T] @ x [T, C]: a transposed, M = V misaligned.
    assertEquals(Case.PAD_M, GemmAlignment.plan(vocab, c, tokens, true, false, true,
        GemmAlignment.MIN_FLOPS));
    // The forward x [T, C] @ W^T has aligned operand rows: the wgmma kernel takes it as it is.
    assertEquals(Case.NONE, GemmAlignment.plan(tokens, vocab, c, false, true, true,
        GemmAlignment.MIN_FLOPS));
  }

  @Test
  void nothingIsPaddedWithoutWgmmaBelowTheThresholdOrWhereTheOtherOperandIsMisalignedToo() {
    assertEquals(Case.NONE, GemmAlignment.plan(4096, 768, 50257, false, false, false, AT_ANY_SIZE));
    assertEquals(Case.NONE, GemmAlignment.plan(8, 8, 1001, false, false, true,
        GemmAlignment.MIN_FLOPS));
    assertEquals(Case.NONE, GemmAlignment.plan(300, 137, 1001, false, false, true, AT_ANY_SIZE),
        "b [K, N] with N odd cannot be fixed by padding K");
    assertEquals(Case.PAD_K, GemmAlignment.plan(300, 137, 1001, false, true, true, AT_ANY_SIZE),
        "b [N, K] is padded along K with a");
    assertEquals(Case.NONE, GemmAlignment.plan(201, 136, 1000, true, true, true, AT_ANY_SIZE));
  }

  @Test
  void chunksHoldAtMostTheBudgetInWholeGranules() {
    assertEquals(5248, GemmAlignment.chunkRows(GemmAlignment.CHUNK_ELEMENTS, 50264, 128, 65536));
    assertEquals(128, GemmAlignment.chunkRows(10, 50264, 128, 65536), "at least one granule");
    assertEquals(300, GemmAlignment.chunkRows(GemmAlignment.CHUNK_ELEMENTS, 1008, 128, 300),
        "at most the whole operand");
    assertEquals(50264, GemmAlignment.padded(50257));
    assertEquals(768, GemmAlignment.padded(768));
  }
}
