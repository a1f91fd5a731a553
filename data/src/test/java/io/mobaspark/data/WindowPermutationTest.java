package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WindowPermutationTest {
  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 5, 113, 203, 1023, 1024, 1025, 65537})
  void isABijection(long n) {
    WindowPermutation p = new WindowPermutation(n, 42);
    BitSet seen = new BitSet();
    for (long i = 0; i < n; i++) {
      long v = p.apply(i);
      assertTrue(v >= 0 && v < n, "image " + v + " of " + i);
      assertTrue(!seen.get((int) v), "image " + v + " hit twice");
      seen.set((int) v);
    }
    assertEquals(n, seen.cardinality());
  }

  @Test
  void dependsOnTheSeedOnly() {
    WindowPermutation a = new WindowPermutation(1000, 1);
    WindowPermutation b = new WindowPermutation(1000, 1);
    WindowPermutation c = new WindowPermutation(1000, 2);
    int differ = 0;
    int fixedPoints = 0;
    for (long i = 0; i < 1000; i++) {
      assertEquals(a.apply(i), b.apply(i));
      differ += a.apply(i) != c.apply(i) ? 1 : 0;
      fixedPoints += a.apply(i) == i ? 1 : 0;
    }
    // A random permutation has about 1 fixed point and agrees with another at about 1 place.
    assertTrue(differ > 980, "seeds 1 and 2 agree at " + (1000 - differ) + " places");
    assertTrue(fixedPoints < 20, fixedPoints + " fixed points");
  }

  @Test
  void largeDomainsNeedNoMemory() {
    long n = 3_000_000_000_123L;
    WindowPermutation p = new WindowPermutation(n, 7);
    long v = p.apply(n - 1);
    assertTrue(v >= 0 && v < n);
    assertNotEquals(p.apply(0), p.apply(1));
  }

  @Test
  void rejectsOutOfRange() {
    assertThrows(IllegalArgumentException.class, () -> new WindowPermutation(0, 1));
    WindowPermutation p = new WindowPermutation(10, 1);
    assertThrows(IndexOutOfBoundsException.class, () -> p.apply(10));
    assertThrows(IndexOutOfBoundsException.class, () -> p.apply(-1));
  }
}
