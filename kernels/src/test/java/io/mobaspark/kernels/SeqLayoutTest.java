package io.mobaspark.kernels;

import static io.mobaspark.kernels.ShapeTest.assertRejected;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import org.junit.jupiter.api.Test;

class SeqLayoutTest {

  @Test
  void ofDescribesEachSequence() {
    SeqLayout layout = SeqLayout.of(0, 3, 4, 9);

    assertEquals(3, layout.sequences());
    assertEquals(9, layout.totalTokens());
    assertEquals(3, layout.start(1));
    assertEquals(4, layout.end(1));
    assertEquals(1, layout.length(1));
    assertEquals(5, layout.maxLength());
    assertArrayEquals(new int[] {0, 3, 4, 9}, layout.cuSeqlens());
    assertEquals("cu_seqlens[0, 3, 4, 9]", layout.toString());
  }

  @Test
  void ofCopiesItsArgumentAndItsResult() {
    int[] cu = {0, 2, 5};
    SeqLayout layout = SeqLayout.of(cu);
    cu[1] = 1;
    layout.cuSeqlens()[1] = 1;

    assertEquals(2, layout.end(0));
  }

  @Test
  void ofRejectsMalformedCuSeqlens() {
    assertRejected(() -> SeqLayout.of(0), "at least two", "[0]");
    assertRejected(() -> SeqLayout.of(1, 4), "start at 0", "[1, 4]");
    assertRejected(() -> SeqLayout.of(0, 3, 3, 5), "strictly increasing", "3 then 3",
        "index 2");
    assertRejected(() -> SeqLayout.of(0, 4, 2), "4 then 2", "index 2");
  }

  @Test
  void uniformSplitsIntoEqualSequences() {
    SeqLayout layout = SeqLayout.uniform(3, 2);

    assertEquals(SeqLayout.of(0, 2, 4, 6), layout);
    assertEquals(SeqLayout.of(0, 2, 4, 6).hashCode(), layout.hashCode());
    assertNotEquals(SeqLayout.of(0, 3, 6), layout);
    assertRejected(() -> SeqLayout.uniform(0, 4), "batch=0");
    assertRejected(() -> SeqLayout.uniform(2, 0), "seqLen=0");
  }

  @Test
  void splitAfterStartsADocumentAfterEachSeparatorInsideAWindow() {
    int sep = 0;
    int[] tokens = {
        5, sep, 5, 5, // window 0: split after position 1
        sep, 5, 5, sep}; // window 1: split after position 4; a trailing separator ends the window
    SeqLayout layout = SeqLayout.splitAfter(tokens, 2, 4, sep);

    assertEquals(SeqLayout.of(0, 2, 4, 5, 8), layout);
    assertArrayEquals(new int[] {0, 1, 0, 1, 0, 0, 1, 2}, layout.positions());
  }

  @Test
  void splitAfterWithoutSeparatorsIsUniform() {
    assertEquals(SeqLayout.uniform(2, 3),
        SeqLayout.splitAfter(new int[] {1, 2, 3, 4, 5, 6}, 2, 3, 0));
  }

  @Test
  void splitAfterRejectsATokenCountThatIsNotBatchTimesSeqLen() {
    assertRejected(() -> SeqLayout.splitAfter(new int[5], 2, 3, 0), "tokens has 5",
        "batch*seqLen = 6");
  }

  @Test
  void positionsRestartAtEachSequence() {
    assertArrayEquals(new int[] {0, 1, 2, 0, 0, 1}, SeqLayout.of(0, 3, 4, 6).positions());
  }

  @Test
  void requireTokensNamesWhatDisagrees() {
    SeqLayout layout = SeqLayout.of(0, 3, 7);
    layout.requireTokens(7, "q");

    assertRejected(() -> layout.requireTokens(8, "tensor q[8, 2, 4]"), "tensor q[8, 2, 4]",
        "8 tokens", "covers 7");
  }
}
