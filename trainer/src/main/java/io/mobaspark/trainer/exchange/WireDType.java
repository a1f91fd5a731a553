package io.mobaspark.trainer.exchange;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How gradient elements travel: little-endian fp32, or bf16 for half the bytes. A value on the wire
 * is {@link #round}(value): double to float (nearest), then for bf16 float to bf16 (nearest even).
 */
public enum WireDType {
  FP32(1, 4) {
    @Override
    void encode(double[] src, int from, int count, byte[] dst) {
      for (int i = 0; i < count; i++) {
        FLOATS.set(dst, i * 4, (float) src[from + i]);
      }
    }

    @Override
    void encode(float[] src, int from, int count, byte[] dst) {
      ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(src, from, count);
    }

    @Override
    void decode(byte[] src, int count, float[] dst, int from) {
      ByteBuffer.wrap(src).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, from, count);
    }

    @Override
    double decodeAt(byte[] src, int i) {
      return (float) FLOATS.get(src, i * 4);
    }

    @Override
    double round(double value) {
      return (float) value;
    }
  },
  BF16(2, 2) {
    @Override
    void encode(double[] src, int from, int count, byte[] dst) {
      for (int i = 0; i < count; i++) {
        SHORTS.set(dst, i * 2, Bf16.fromFloat((float) src[from + i]));
      }
    }

    @Override
    void encode(float[] src, int from, int count, byte[] dst) {
      for (int i = 0; i < count; i++) {
        SHORTS.set(dst, i * 2, Bf16.fromFloat(src[from + i]));
      }
    }

    @Override
    void decode(byte[] src, int count, float[] dst, int from) {
      for (int i = 0; i < count; i++) {
        dst[from + i] = Bf16.toFloat((short) SHORTS.get(src, i * 2));
      }
    }

    @Override
    double decodeAt(byte[] src, int i) {
      return Bf16.toFloat((short) SHORTS.get(src, i * 2));
    }

    @Override
    double round(double value) {
      return Bf16.toFloat(Bf16.fromFloat((float) value));
    }
  };

  private static final VarHandle FLOATS =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle SHORTS =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

  private final byte code;
  private final int bytes;

  WireDType(int code, int bytes) {
    this.code = (byte) code;
    this.bytes = bytes;
  }

  /** Bytes per element on the wire. */
  public int bytes() {
    return bytes;
  }

  /** The frame header's dtype byte. */
  byte code() {
    return code;
  }

  /** The dtype of a header byte, or null for an unknown one. */
  static WireDType ofCode(int code) {
    for (WireDType d : values()) {
      if (d.code == code) {
        return d;
      }
    }
    return null;
  }

  /** Writes {@code src[from, from + count)} rounded to this dtype into {@code dst[0, count * bytes)}. */
  abstract void encode(double[] src, int from, int count, byte[] dst);

  /**
   * The ranks' side: floats (a float is its own fp32 wire value, copied in bulk; bf16 rounds it to
   * nearest even) into {@code dst[0, count * bytes)}.
   */
  abstract void encode(float[] src, int from, int count, byte[] dst);

  /** {@code dst[from + i] = element i of src} (every wire value is a float). */
  abstract void decode(byte[] src, int count, float[] dst, int from);

  /** Element {@code i} of an encoded array. */
  abstract double decodeAt(byte[] src, int i);

  /** The value after a round trip through the wire. */
  abstract double round(double value);

  /** {@code dst[from + i] = element i of src}. */
  void decode(byte[] src, int count, double[] dst, int from) {
    for (int i = 0; i < count; i++) {
      dst[from + i] = decodeAt(src, i);
    }
  }

  /** {@code dst[from + i] += element i of src}: one more rank's contribution to a sum. */
  void decodeAdd(byte[] src, int count, double[] dst, int from) {
    for (int i = 0; i < count; i++) {
      dst[from + i] += decodeAt(src, i);
    }
  }

  /**
   * {@code dst[from + i] += element i of src}, rounded to float: a ring's partial sum, which the next
   * hop's {@link #encode(float[], int, int, byte[])} rounds to the wire anyway (for fp32 the same
   * single rounding as a sum kept in double; the sum of two floats is rounded once either way).
   */
  void decodeAdd(byte[] src, int count, float[] dst, int from) {
    for (int i = 0; i < count; i++) {
      dst[from + i] = (float) (dst[from + i] + decodeAt(src, i));
    }
  }
}
