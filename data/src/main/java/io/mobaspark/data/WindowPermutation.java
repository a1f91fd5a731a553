package io.mobaspark.data;

/**
 * A seeded pseudo-random permutation of {@code [0, n)} evaluated one index at a time: a balanced
 * Feistel network over the smallest even number of bits that covers {@code n}, with cycle-walking
 * (re-applying it until the value falls below {@code n}; Black and Rogaway, "Ciphers with
 * arbitrary finite domains", CT-RSA 2002). It needs no memory and no set-up, so the sampler can
 * jump to any cursor of any epoch, however large the dataset, at once.
 *
 * <p>Each Feistel round is a bijection whatever its round function, so the whole is one on
 * {@code [0, 2^bits)}; walking the cycle of {@code i} until it returns below {@code n} restricts it
 * to a bijection on {@code [0, n)}. As {@code 2^bits < 4n}, a walk takes under 4 steps on average.
 */
final class WindowPermutation {
  private static final int ROUNDS = 6;

  private final long n;
  private final int halfBits;
  private final long halfMask;
  private final long[] roundKeys = new long[ROUNDS];

  WindowPermutation(long n, long seed) {
    if (n < 1) {
      throw new IllegalArgumentException("permutation size must be >= 1, got " + n);
    }
    int bits = Math.max(2, 64 - Long.numberOfLeadingZeros(n - 1));
    bits += bits & 1;
    this.n = n;
    this.halfBits = bits / 2;
    this.halfMask = (1L << halfBits) - 1;
    for (int r = 0; r < ROUNDS; r++) {
      roundKeys[r] = SplitMix64.hash(seed, r);
    }
  }

  long size() {
    return n;
  }

  /** The image of {@code i}. */
  long apply(long i) {
    if (i < 0 || i >= n) {
      throw new IndexOutOfBoundsException("index " + i + " outside [0, " + n + ")");
    }
    long x = i;
    do {
      x = feistel(x);
    } while (x >= n);
    return x;
  }

  private long feistel(long x) {
    long left = x >>> halfBits;
    long right = x & halfMask;
    for (long key : roundKeys) {
      long next = left ^ (SplitMix64.mix(right ^ key) & halfMask);
      left = right;
      right = next;
    }
    return (left << halfBits) | right;
  }
}
