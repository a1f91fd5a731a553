package io.mobaspark.jobs.preprocess;

import io.mobaspark.data.shard.TokenDtype;

/**
 * A document's token ids as the bytes a Spark row carries between the read stage, where the JVM
 * path tokenizes, and the packing tasks: little-endian, in the shard's width (2 bytes per GPT-2
 * token, less than half of what the UTF-8 text took in the shuffle). Equal documents give equal
 * bytes, which is how the packing tasks recognise duplicates.
 */
final class TokenBytes {
  private TokenBytes() {}

  /** {@code ids} in {@code dtype}'s width. */
  static byte[] of(int[] ids, TokenDtype dtype) {
    int width = dtype.bytesPerToken();
    byte[] out = new byte[ids.length * width];
    for (int i = 0, b = 0; i < ids.length; i++, b += width) {
      int id = ids[i];
      out[b] = (byte) id;
      out[b + 1] = (byte) (id >>> 8);
      if (width == 4) {
        out[b + 2] = (byte) (id >>> 16);
        out[b + 3] = (byte) (id >>> 24);
      }
    }
    return out;
  }

  /** The ids that {@link #of} turned into {@code bytes}. */
  static int[] ids(byte[] bytes, TokenDtype dtype) {
    int width = dtype.bytesPerToken();
    if (bytes.length % width != 0) {
      throw new IllegalArgumentException("token bytes of length " + bytes.length
          + " are not a whole number of " + dtype + " ids");
    }
    int[] ids = new int[bytes.length / width];
    for (int i = 0, b = 0; i < ids.length; i++, b += width) {
      int id = (bytes[b] & 0xff) | (bytes[b + 1] & 0xff) << 8;
      if (width == 4) {
        id |= (bytes[b + 2] & 0xff) << 16 | (bytes[b + 3] & 0xff) << 24;
      }
      ids[i] = id;
    }
    return ids;
  }
}
