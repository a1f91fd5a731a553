package io.mobaspark.trainer.exchange;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One frame header: 28 bytes, little-endian, then {@code length} payload bytes.
 *
 * <pre>
 * offset size field
 *  0     4    magic "MBXG"
 *  4     1    version (1)
 *  5     1    type (FrameType)
 *  6     1    dtype (WireDType; the session's, also on handshake frames)
 *  7     1    flags (bit 0: LAST bucket of the step)
 *  8     4    rank of the sender (-1: the driver)
 * 12     4    step
 * 16     4    bucket
 * 20     4    part (ring chunk index; 0 otherwise)
 * 24     4    length of the payload in bytes
 * </pre>
 */
record Frame(FrameType type, WireDType dtype, int flags, int rank, int step, int bucket, int part,
    int length) {
  static final int HEADER_BYTES = 28;
  static final byte VERSION = 1;
  static final int FLAG_LAST = 1;
  private static final byte[] MAGIC = {'M', 'B', 'X', 'G'};
  private static final VarHandle INTS =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  boolean last() {
    return (flags & FLAG_LAST) != 0;
  }

  void encode(byte[] dst) {
    System.arraycopy(MAGIC, 0, dst, 0, 4);
    dst[4] = VERSION;
    dst[5] = type.code();
    dst[6] = dtype.code();
    dst[7] = (byte) flags;
    INTS.set(dst, 8, rank);
    INTS.set(dst, 12, step);
    INTS.set(dst, 16, bucket);
    INTS.set(dst, 20, part);
    INTS.set(dst, 24, length);
  }

  /**
   * Parses and validates a header before any payload is read or allocated: magic, version, known
   * type and dtype, no unknown flags, and a length within what the type allows.
   *
   * @param capacity the most bytes a data frame of this session may carry
   * @return the header, or the reason it is invalid as an {@link IllegalArgumentException}
   */
  static Frame decode(byte[] src, int capacity) {
    for (int i = 0; i < 4; i++) {
      if (src[i] != MAGIC[i]) {
        throw new IllegalArgumentException(String.format(
            "bad magic 0x%02x%02x%02x%02x (not an exchange peer, or a corrupt stream)",
            src[0], src[1], src[2], src[3]));
      }
    }
    if (src[4] != VERSION) {
      throw new IllegalArgumentException("protocol version " + src[4] + ", expected " + VERSION);
    }
    FrameType type = FrameType.ofCode(src[5]);
    if (type == null) {
      throw new IllegalArgumentException("unknown frame type " + src[5]);
    }
    WireDType dtype = WireDType.ofCode(src[6]);
    if (dtype == null) {
      throw new IllegalArgumentException("unknown wire dtype " + src[6] + " in a " + type
          + " frame");
    }
    if ((src[7] & ~FLAG_LAST) != 0) {
      throw new IllegalArgumentException("unknown flags 0x" + Integer.toHexString(src[7] & 0xff));
    }
    int length = (int) INTS.get(src, 24);
    int max = type.maxLength(capacity);
    if (length < type.minLength() || length > max) {
      throw new IllegalArgumentException(type + " frame declares " + length
          + " payload bytes, allowed " + type.minLength() + ".." + max);
    }
    return new Frame(type, dtype, src[7], (int) INTS.get(src, 8), (int) INTS.get(src, 12),
        (int) INTS.get(src, 16), (int) INTS.get(src, 20), length);
  }
}
