package io.mobaspark.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class Bf16Test {
  private static void assertBits(int expected, short actual, String what) {
    assertEquals(String.format("0x%04x", expected), String.format("0x%04x", actual & 0xffff), what);
  }

  @Test
  void exactValuesKeepTheirBits() {
    assertBits(0x3f80, Bf16.fromDouble(1.0), "1");
    assertBits(0xbf80, Bf16.fromDouble(-1.0), "-1");
    assertBits(0x0000, Bf16.fromDouble(0.0), "+0");
    assertBits(0x8000, Bf16.fromDouble(-0.0), "-0");
    assertBits(0x4049, Bf16.fromDouble(3.140625), "3.140625 = 0x4049");
    assertBits(0x7f80, Bf16.fromDouble(Double.POSITIVE_INFINITY), "+inf");
    assertBits(0xff80, Bf16.fromDouble(Double.NEGATIVE_INFINITY), "-inf");
    assertBits(0x7fc0, Bf16.fromDouble(Double.NaN), "NaN");
    assertBits(0x0001, Bf16.fromFloat(Float.intBitsToFloat(0x00010000)), "smallest subnormal");
  }

  @Test
  void tiesGoToEven() {
    double ulp = Math.scalb(1.0, -7); // bf16 spacing in [1, 2)
    assertBits(0x3f80, Bf16.fromDouble(1 + ulp / 2), "1 + half ulp: down to even 1");
    assertBits(0x3f82, Bf16.fromDouble(1 + 3 * ulp / 2), "1 + 1.5 ulp: up to even 1 + 2 ulp");
    assertBits(0xbf80, Bf16.fromDouble(-(1 + ulp / 2)), "negative tie");
    assertBits(0x3f81, Bf16.fromDouble(1 + ulp / 2 + Math.scalb(1.0, -40)), "above the tie: up");
    assertBits(0x3f80, Bf16.fromDouble(1 + ulp / 2 - Math.scalb(1.0, -40)), "below the tie: down");
  }

  @Test
  void doublesRoundOnceNotTwice() {
    // Rounding to float first would land exactly on the tie 1 + 2^-8 and then go down to 1.
    double x = 1 + Math.scalb(1.0, -8) + Math.scalb(1.0, -30);
    assertEquals(1 + Math.scalb(1.0, -8), (float) x, "the float rounding hits the tie");
    assertBits(0x3f81, Bf16.fromDouble(x), "correctly rounded up");
    assertBits(0xbf81, Bf16.fromDouble(-x), "and symmetric");
  }

  @Test
  void overflowAndUnderflow() {
    assertBits(0x7f7f, Bf16.fromDouble(Bf16.toFloat((short) 0x7f7f)), "largest finite");
    assertBits(0x7f80, Bf16.fromDouble(3.4e38), "past max + half ulp: inf");
    assertBits(0x7f80, Bf16.fromDouble(1e300), "double beyond float range: inf");
    assertBits(0x0000, Bf16.fromDouble(1e-300), "below the smallest subnormal: 0");
    assertBits(0x8000, Bf16.fromDouble(-1e-300), "negative underflow keeps the sign");
  }

  @Test
  void everyBf16ValueRoundTrips() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float f = Bf16.toFloat((short) bits);
      if (!Float.isNaN(f)) {
        assertBits(bits, Bf16.fromFloat(f), "float " + f);
        assertBits(bits, Bf16.fromDouble(f), "double " + f);
      }
    }
  }

  @Test
  void fromDoubleMatchesExactRoundingOnRandomValues() {
    java.util.Random random = new java.util.Random(3);
    for (int i = 0; i < 200_000; i++) {
      double x = random.nextGaussian() * Math.scalb(1.0, random.nextInt(40) - 20);
      double rounded = Bf16.round(x);
      // Exactly the nearest bf16: no neighbour is closer, and a tie has an even last bit.
      short bits = Bf16.fromDouble(x);
      double up = Bf16.toFloat((short) (bits + 1));
      double down = Bf16.toFloat((short) (bits - 1));
      double err = Math.abs(rounded - x);
      boolean nearest = err <= Math.abs(up - x) && err <= Math.abs(down - x);
      boolean tieEven = (err != Math.abs(up - x) && err != Math.abs(down - x)) || (bits & 1) == 0;
      assertEquals(true, nearest && tieEven, "x = " + x);
    }
  }
}
