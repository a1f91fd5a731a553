package io.mobaspark.kernels.cpu;

/**
 * Range checks for token ids, run before an op touches memory so that a corrupt batch fails with
 * the tensor, position and value rather than an index error deep inside a kernel.
 */
final class TokenIds {
  /** The target value that {@link CrossEntropyCpu} skips: no loss, no gradient. */
  static final int IGNORE = -1;

  private TokenIds() {}

  /** Throws unless every {@code ids[t]}, {@code t < count}, lies in {@code [0, vocab)}. */
  static void requireInVocab(String name, int[] ids, int count, int vocab) {
    for (int t = 0; t < count; t++) {
      if (ids[t] < 0 || ids[t] >= vocab) {
        throw outside(name, t, ids[t], vocab, "");
      }
    }
  }

  /** As {@link #requireInVocab}, but {@link #IGNORE} is also allowed. */
  static void requireInVocabOrIgnored(String name, int[] ids, int count, int vocab) {
    for (int t = 0; t < count; t++) {
      if (ids[t] != IGNORE && (ids[t] < 0 || ids[t] >= vocab)) {
        throw outside(name, t, ids[t], vocab, " (use " + IGNORE + " to ignore a token)");
      }
    }
  }

  private static IllegalArgumentException outside(String name, int t, int id, int vocab,
      String hint) {
    return new IllegalArgumentException(
        name + "[" + t + "] = " + id + " is outside the vocabulary [0, " + vocab + ")" + hint);
  }
}
