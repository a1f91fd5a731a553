package io.mobaspark.jobs.preprocess;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Deterministic train/validation split by content hash: the same document lands in the same split on
 * every run, machine and partitioning, and duplicates land together.
 */
public final class SplitAssigner {
  private SplitAssigner() {}

  /** True when {@code document} belongs to the validation split of size {@code fraction}. */
  public static boolean isValidation(String document, double fraction) {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + fraction);
    }
    return unitHash(document) < fraction;
  }

  /** The first 53 bits of SHA-256 as a number in [0, 1). */
  static double unitHash(String document) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(document.getBytes(StandardCharsets.UTF_8));
      long bits = 0;
      for (int i = 0; i < 8; i++) {
        bits = (bits << 8) | (h[i] & 0xff);
      }
      return (bits >>> 11) * 0x1.0p-53;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }
}
