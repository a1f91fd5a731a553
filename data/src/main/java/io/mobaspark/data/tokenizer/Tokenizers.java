package io.mobaspark.data.tokenizer;

import java.util.List;

/** The one place that maps a tokenizer name, as written in configs and manifests, to a tokenizer. */
public final class Tokenizers {
  /** GPT-2's byte-pair encoding: the default, because its vocabulary fits in uint16 shards. */
  public static final String R50K_BASE = "r50k_base";
  public static final String CL100K_BASE = "cl100k_base";
  /** UTF-8 bytes, for tiny models whose embedding table must stay small. */
  public static final String BYTES = "bytes";
  public static final String DEFAULT = R50K_BASE;

  private static final List<String> NAMES = List.of(R50K_BASE, CL100K_BASE, BYTES);

  private Tokenizers() {}

  /** Every name {@link #byName} accepts. */
  public static List<String> names() {
    return NAMES;
  }

  /**
   * The tokenizer called {@code name}.
   *
   * @throws IllegalArgumentException listing the valid names when {@code name} is none of them
   */
  public static Tokenizer byName(String name) {
    if (name == null) {
      throw new IllegalArgumentException("tokenizer name is null; valid names: " + NAMES);
    }
    switch (name) {
      case R50K_BASE:
        return TiktokenTokenizer.r50kBase();
      case CL100K_BASE:
        return TiktokenTokenizer.cl100kBase();
      case BYTES:
        return ByteTokenizer.INSTANCE;
      default:
        throw new IllegalArgumentException(
            "unknown tokenizer '" + name + "'; valid names: " + NAMES);
    }
  }
}
