package io.mobaspark.data.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * UTF-8 bytes as tokens 0..255 and end-of-text as 256: a 257-entry vocabulary for models too
 * small to afford a 50k-row embedding table, and a tokenizer whose behaviour a reader can check by
 * hand.
 */
final class ByteTokenizer implements Tokenizer {
  static final ByteTokenizer INSTANCE = new ByteTokenizer();

  private static final int EOT = 256;
  private static final byte[] EOT_TEXT = "<|endoftext|>".getBytes(StandardCharsets.UTF_8);

  private ByteTokenizer() {}

  @Override
  public String name() {
    return Tokenizers.BYTES;
  }

  @Override
  public int vocabSize() {
    return EOT + 1;
  }

  @Override
  public int eotId() {
    return EOT;
  }

  @Override
  public int[] encode(String text) {
    if (text == null) {
      throw new IllegalArgumentException("bytes: text to encode is null");
    }
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    int[] ids = new int[utf8.length];
    for (int i = 0; i < utf8.length; i++) {
      ids[i] = utf8[i] & 0xFF;
    }
    return ids;
  }

  @Override
  public String decode(int[] ids) {
    if (ids == null) {
      throw new IllegalArgumentException("bytes: ids to decode are null");
    }
    ByteArrayOutputStream utf8 = new ByteArrayOutputStream(ids.length);
    for (int i = 0; i < ids.length; i++) {
      int id = ids[i];
      if (id == EOT) {
        utf8.writeBytes(EOT_TEXT);
      } else if (id >= 0 && id < EOT) {
        utf8.write(id);
      } else {
        throw new IllegalArgumentException(
            "bytes: ids[" + i + "] = " + id + " is outside the vocabulary [0, " + (EOT + 1) + ")");
      }
    }
    return utf8.toString(StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return name();
  }
}
