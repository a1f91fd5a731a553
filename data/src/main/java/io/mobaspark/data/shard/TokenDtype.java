package io.mobaspark.data.shard;

import java.nio.ByteBuffer;
import org.apache.arrow.vector.types.pojo.ArrowType;

/**
 * How a shard stores one token id. The narrowest type that holds the vocabulary is used, because
 * the training loop reads every token once per epoch and shards are read from disk or page cache.
 */
public enum TokenDtype {
  /** Ids below 65,536 (GPT-2, bytes): Arrow {@code Int(16, unsigned)}, pyarrow {@code uint16}. */
  UINT16("uint16", 2, new ArrowType.Int(16, false)),
  /** Larger vocabularies (cl100k): Arrow {@code Int(32, signed)}, pyarrow {@code int32}. */
  INT32("int32", 4, new ArrowType.Int(32, true));

  /** The largest vocabulary whose ids all fit in {@link #UINT16}. */
  public static final int UINT16_MAX_VOCAB = 1 << 16;

  private final String manifestName;
  private final int bytesPerToken;
  private final ArrowType arrowType;

  TokenDtype(String manifestName, int bytesPerToken, ArrowType arrowType) {
    this.manifestName = manifestName;
    this.bytesPerToken = bytesPerToken;
    this.arrowType = arrowType;
  }

  /** The narrowest dtype for ids in {@code [0, vocabSize)}. */
  public static TokenDtype forVocab(int vocabSize) {
    if (vocabSize < 1) {
      throw new IllegalArgumentException("vocabSize must be >= 1, got " + vocabSize);
    }
    return vocabSize <= UINT16_MAX_VOCAB ? UINT16 : INT32;
  }

  /**
   * The dtype that the manifest calls {@code name} ({@code "uint16"} or {@code "int32"}).
   *
   * @throws IllegalArgumentException naming the value and the valid names
   */
  public static TokenDtype fromManifestName(String name) {
    for (TokenDtype d : values()) {
      if (d.manifestName.equals(name)) {
        return d;
      }
    }
    throw new IllegalArgumentException("unknown dtype '" + name + "'; valid: uint16, int32");
  }

  /** The dtype whose Arrow type is {@code type}, or null when shards never use that type. */
  static TokenDtype fromArrowType(ArrowType type) {
    for (TokenDtype d : values()) {
      if (d.arrowType.equals(type)) {
        return d;
      }
    }
    return null;
  }

  public String manifestName() {
    return manifestName;
  }

  public int bytesPerToken() {
    return bytesPerToken;
  }

  public ArrowType arrowType() {
    return arrowType;
  }

  /** Whether every id of a {@code vocabSize} vocabulary fits. */
  public boolean holds(int vocabSize) {
    return this == INT32 || vocabSize <= UINT16_MAX_VOCAB;
  }

  /** The token stored at {@code byteIndex} of a little-endian buffer. */
  int read(ByteBuffer littleEndian, int byteIndex) {
    return this == UINT16
        ? Short.toUnsignedInt(littleEndian.getShort(byteIndex))
        : littleEndian.getInt(byteIndex);
  }

  @Override
  public String toString() {
    return manifestName;
  }
}
