package io.mobaspark.kernels.cuda;

/**
 * bfloat16 (1 sign, 8 exponent, 7 mantissa bits: the top half of a float32) as raw {@code short}
 * bits, with round-to-nearest-even like the device's {@code __float2bfloat16_rn}.
 */
public final class Bf16 {
  /** The quiet NaN every NaN maps to. */
  public static final short NAN = (short) 0x7fc0;

  private Bf16() {}

  public static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** Round-to-nearest-even of a float32: add half an ulp minus one, plus the kept LSB (the tie rule). */
  public static short fromFloat(float x) {
    if (Float.isNaN(x)) {
      return NAN;
    }
    int bits = Float.floatToRawIntBits(x);
    int bias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + bias) >>> 16); // overflow past the largest finite value carries into inf
  }

  /**
   * Round-to-nearest-even of a double, correctly rounded: {@code fromFloat((float) x)} would round
   * twice, and 1 + 2^-8 + 2^-30 would land on the tie 1 + 2^-8 and then go down to 1. Rounding to
   * float by round-to-odd first keeps the sticky information (float has 16 more bits than bf16, and
   * round-to-odd to at least two extra bits makes the second rounding exact).
   */
  public static short fromDouble(double x) {
    if (Double.isNaN(x)) {
      return NAN;
    }
    float nearest = (float) x;
    if (nearest == x || Float.isInfinite(nearest) && Double.isInfinite(x)) {
      return fromFloat(nearest);
    }
    // The float below |x| in magnitude, then its odd neighbour if it is even.
    float truncated = Math.abs((double) nearest) > Math.abs(x)
        ? Math.nextAfter(nearest, 0.0)
        : nearest;
    int bits = Float.floatToRawIntBits(truncated) | 1;
    return fromFloat(Float.intBitsToFloat(bits));
  }

  public static short[] fromDoubles(double[] values) {
    short[] out = new short[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = fromDouble(values[i]);
    }
    return out;
  }

  /** The double nearest to each bf16 value (exact: every bf16 is a double). */
  public static double[] toDoubles(short[] bits) {
    double[] out = new double[bits.length];
    for (int i = 0; i < bits.length; i++) {
      out[i] = toFloat(bits[i]);
    }
    return out;
  }

  /** {@code x} rounded to bf16 and back: what a bf16 tensor stores for {@code x}. */
  public static double round(double x) {
    return toFloat(fromDouble(x));
  }
}
