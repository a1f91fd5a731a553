package io.mobaspark.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class ShapeTest {

  @Test
  void reportsItsDimensionsAndElementCount() {
    Shape s = new Shape("q", 4, 2, 8);

    assertEquals("q", s.name());
    assertEquals(3, s.rank());
    assertEquals(2, s.dim(1));
    assertEquals(64, s.numel());
    assertArrayEquals(new int[] {4, 2, 8}, s.dims());
    assertEquals("q[4, 2, 8]", s.toString());
  }

  @Test
  void zeroSizedDimensionsAreAllowed() {
    assertEquals(0, new Shape("empty", 3, 0).numel());
  }

  @Test
  void elementCountDoesNotOverflowInt() {
    assertEquals(1L << 40, new Shape("huge", 1 << 20, 1 << 20).numel());
  }

  @Test
  void dimensionsAreCopiedInAndOut() {
    int[] dims = {2, 3};
    Shape s = new Shape("x", dims);
    dims[0] = 99;
    s.dims()[1] = 99;

    assertArrayEquals(new int[] {2, 3}, s.dims());
  }

  @Test
  void invalidShapesAreRejected() {
    assertRejected(() -> new Shape(" ", 1), "name");
    assertRejected(() -> new Shape(null, 1), "name");
    assertRejected(() -> new Shape("x"), "tensor x", "at least one dimension");
    assertRejected(() -> new Shape("x", 2, -1), "tensor x", "negative", "[2, -1]");
  }

  @Test
  void requireNamesTheTensorItsShapeAndTheExpectedShape() {
    Shape s = new Shape("weight", 3, 4);
    s.require(3, 4);
    s.requireNumel(12);

    assertRejected(() -> s.require(4, 3), "weight", "[3, 4]", "expected [4, 3]");
    assertRejected(() -> s.require(3, 4, 1), "weight", "expected [3, 4, 1]");
    assertRejected(() -> s.requireNumel(13), "weight", "12 elements", "expected 13");
  }

  static void assertRejected(Executable call, String... fragments) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    for (String fragment : fragments) {
      assertTrue(e.getMessage().contains(fragment),
          "message '" + e.getMessage() + "' should contain '" + fragment + "'");
    }
  }
}
