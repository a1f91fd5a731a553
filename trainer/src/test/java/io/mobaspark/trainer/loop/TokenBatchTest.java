package io.mobaspark.trainer.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TokenBatchTest {
  private static final int EOT = 9;

  @Test
  void inputsAreEachWindowButItsLastTokenTargetsButItsFirst() {
    TokenBatch batch = TokenBatch.fromWindows(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 3, -1);
    assertArrayEquals(new int[] {1, 2, 3, 5, 6, 7}, batch.inputs());
    assertArrayEquals(new int[] {2, 3, 4, 6, 7, 8}, batch.targets());
    assertArrayEquals(new int[] {0, 3, 6}, batch.layout().cuSeqlens());
  }

  @Test
  void documentMaskingSplitsAfterEachSeparatorAndStillPredictsAcrossIt() {
    // Window 0: "1 EOT 2 3 | 4", window 1: "5 6 EOT 7 | EOT".
    TokenBatch batch = TokenBatch.fromWindows(new int[] {1, EOT, 2, 3, 4, 5, 6, EOT, 7, EOT}, 2, 4,
        EOT);
    assertArrayEquals(new int[] {0, 2, 4, 7, 8}, batch.layout().cuSeqlens());
    assertArrayEquals(new int[] {EOT, 2, 3, 4, 6, EOT, 7, EOT}, batch.targets(),
        "the separator is an ordinary target, and the token after it is predicted from it");
  }

  @Test
  void rejectsWindowsOfTheWrongSize() {
    assertThrows(IllegalArgumentException.class,
        () -> TokenBatch.fromWindows(new int[7], 2, 3, -1));
  }
}
