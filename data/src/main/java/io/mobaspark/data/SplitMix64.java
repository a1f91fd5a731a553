package io.mobaspark.data;

/**
 * The SplitMix64 finalizer (Steele, Lea and Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): a cheap bijective mixer, so that nearby seeds, ranks and epochs give
 * unrelated offsets and permutations.
 */
final class SplitMix64 {
  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

  private SplitMix64() {}

  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** An order-sensitive hash of {@code values}. */
  static long hash(long... values) {
    long h = 0;
    for (long v : values) {
      h = mix(h ^ mix(v + GOLDEN_GAMMA));
    }
    return h;
  }
}
