package io.mobaspark.trainer.exchange;

/**
 * bfloat16: the top 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 mantissa bits). Rounding is to
 * nearest, ties to even, as CUDA's {@code __float2bfloat16_rn} does, so a GPU rank that later sends
 * its own bf16 bytes produces the same wire values as this encoder.
 */
final class Bf16 {
  private Bf16() {}

  static short fromFloat(float value) {
    int bits = Float.floatToRawIntBits(value);
    if ((bits & 0x7fffffff) > 0x7f800000) {
      // A NaN must stay a NaN: truncating its payload could leave an infinity. Set the quiet bit.
      return (short) ((bits >>> 16) | 0x0040);
    }
    // Adding 0x7fff plus the lowest kept bit rounds half-way cases to the even neighbour; a carry
    // into the exponent is correct rounding up, up to infinity for values beyond bf16's range.
    int roundingBias = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + roundingBias) >>> 16);
  }

  static float toFloat(short value) {
    return Float.intBitsToFloat((value & 0xffff) << 16);
  }
}
