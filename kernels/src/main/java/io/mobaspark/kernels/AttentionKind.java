package io.mobaspark.kernels;

/** Which keys a query may attend to. All three share one attention code path. */
public enum AttentionKind {
  /** Every earlier key of the same sequence and the query's own position. */
  DENSE,
  /** The last {@code window} keys up to and including the query: {@code pos - window < key <= pos}. */
  SLIDING,
  /** Mixture of Block Attention: the keys of the top-k routed key blocks (MOBA.md). */
  MOBA;

  public static AttentionKind parse(String text) {
    return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "dense" -> DENSE;
      case "swa", "sliding" -> SLIDING;
      case "moba" -> MOBA;
      default -> throw new IllegalArgumentException(
          "unknown attention type '" + text + "' (expected dense, swa or moba)");
    };
  }
}
