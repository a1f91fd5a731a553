package io.mobaspark.trainer.exchange;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** bf16 rounding, the element codecs and the header checks, without sockets. */
class WireFormatTest {

  @Test
  void bf16RoundsToNearestWithTiesToEven() {
    assertEquals(0x3f80, Bf16.fromFloat(1.0f) & 0xffff);
    float ulp = 0x1p-7f; // bf16 spacing just above 1
    assertEquals(1.0f, Bf16.toFloat(Bf16.fromFloat(1.0f + ulp / 2)), "tie goes to the even 1.0");
    assertEquals(1.0f + 2 * ulp, Bf16.toFloat(Bf16.fromFloat(1.0f + 3 * ulp / 2)),
        "tie goes to the even 1 + 2 ulp");
    assertEquals(1.0f + ulp, Bf16.toFloat(Bf16.fromFloat(1.0f + ulp / 2 + 0x1p-20f)),
        "above the tie rounds up");
    assertEquals(-1.0f - 2 * ulp, Bf16.toFloat(Bf16.fromFloat(-1.0f - 3 * ulp / 2)));
    assertEquals(Float.POSITIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.MAX_VALUE)),
        "beyond bf16's largest finite value");
    assertEquals(Float.NEGATIVE_INFINITY, Bf16.toFloat(Bf16.fromFloat(Float.NEGATIVE_INFINITY)));
    assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.intBitsToFloat(0x7f800001)))),
        "a NaN whose payload is in the dropped bits stays NaN");
    assertEquals(Float.floatToRawIntBits(-0.0f),
        Float.floatToRawIntBits(Bf16.toFloat(Bf16.fromFloat(-0.0f))));
  }

  @Test
  void codecsRoundTripWireValuesAndAccumulate() {
    double[] values = {1.0, -2.5, 1.0 / 3, 1e-30, 3.4e38};
    for (WireDType wire : WireDType.values()) {
      int at = 3 * wire.bytes(); // runs start anywhere in a wire buffer, past a header
      ByteBuffer bytes = WireDType.allocate(at + values.length * wire.bytes());
      wire.encode(values, 0, values.length, bytes, at);
      double[] decoded = new double[values.length];
      wire.decode(bytes, at, values.length, decoded, 0);
      for (int i = 0; i < values.length; i++) {
        assertEquals(wire.round(values[i]), decoded[i], 0, wire + " element " + i);
      }
      wire.decodeAdd(bytes, at, values.length, decoded, 0);
      for (int i = 0; i < values.length; i++) {
        assertEquals(2 * wire.round(values[i]), decoded[i], 0, wire + " sum " + i);
      }
      assertEquals(0, bytes.position(), "positions are left alone");
    }
    assertEquals((float) (1.0 / 3), WireDType.FP32.round(1.0 / 3), 0);
  }

  @Test
  void floatCodecsAgreeWithTheDoubleOnesAndKeepOffsets() {
    float[] values = {7f, 1.0f, -2.5f, (float) (1.0 / 3), 1e-30f, 3.4e38f, 1.00390625f};
    for (WireDType wire : WireDType.values()) {
      int n = values.length - 1;
      int at = 7 * wire.bytes();
      ByteBuffer fromFloats = WireDType.allocate(at + n * wire.bytes());
      wire.encode(values, 1, n, fromFloats, at);
      double[] widened = new double[n];
      for (int i = 0; i < n; i++) {
        widened[i] = values[i + 1];
      }
      ByteBuffer fromDoubles = WireDType.allocate(at + n * wire.bytes());
      wire.encode(widened, 0, n, fromDoubles, at);
      assertEquals(fromDoubles, fromFloats, wire + ": the same bytes");
      float[] decoded = new float[n + 2];
      wire.decode(fromFloats, at, n, decoded, 2);
      assertEquals(0f, decoded[1], wire + ": nothing before the offset");
      for (int i = 0; i < n; i++) {
        assertEquals((float) wire.round(values[i + 1]), decoded[i + 2], 0, wire + " element " + i);
      }
      wire.decodeAdd(fromFloats, at, n, decoded, 2);
      for (int i = 0; i < n; i++) {
        assertEquals((float) (2 * wire.round(values[i + 1])), decoded[i + 2], 0, wire + " sum " + i);
      }
      float[] mean = decoded.clone();
      wire.decodeMean(fromFloats, at, n, mean, 2, 3);
      for (int i = 0; i < n; i++) {
        double exact = ((double) (float) wire.round(values[i + 1]) + decoded[i + 2]) / 3;
        assertEquals((float) wire.round(exact), mean[i + 2], 0, wire + " mean " + i);
      }
    }
    assertEquals(0.333984375, WireDType.BF16.round(1.0 / 3), 0, "8 significant bits");
  }

  @Test
  void aValidHeaderRoundTrips() {
    Frame frame = new Frame(FrameType.BUCKET, WireDType.BF16, Frame.FLAG_LAST, 3, 12, 5, 0, 64);
    byte[] header = new byte[Frame.HEADER_BYTES];
    frame.encode(header);
    assertEquals(frame, Frame.decode(header, 64));
  }

  @Test
  void headersAreRefusedBeforeAnyPayloadIsAllocated() {
    assertRefused(header(FrameType.HELLO, 40), h -> h[0] = 'G', "bad magic 0x47425847");
    assertRefused(header(FrameType.HELLO, 40), h -> h[4] = 9, "protocol version 9, expected 1");
    assertRefused(header(FrameType.HELLO, 40), h -> h[5] = 42, "unknown frame type 42");
    assertRefused(header(FrameType.HELLO, 40), h -> h[6] = 7, "unknown wire dtype 7");
    assertRefused(header(FrameType.HELLO, 40), h -> h[7] = 4, "unknown flags 0x4");
    assertRefused(header(FrameType.HELLO, Integer.MAX_VALUE), h -> { },
        "HELLO frame declares 2147483647 payload bytes, allowed 40..40");
    assertRefused(header(FrameType.BUCKET, 65), h -> { },
        "BUCKET frame declares 65 payload bytes, allowed 0..64");
    assertRefused(header(FrameType.RESULT, -8), h -> { },
        "RESULT frame declares -8 payload bytes, allowed 0..64");
    assertRefused(header(FrameType.ABORT, 1 << 20), h -> { },
        "ABORT frame declares 1048576 payload bytes, allowed 1..1024");
  }

  private static byte[] header(FrameType type, int length) {
    byte[] header = new byte[Frame.HEADER_BYTES];
    new Frame(type, WireDType.FP32, 0, 0, 1, 0, 0, length).encode(header);
    return header;
  }

  private static void assertRefused(byte[] header, java.util.function.Consumer<byte[]> damage,
      String message) {
    damage.accept(header);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Frame.decode(header, 64));
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }

  @Test
  void flatBuffersCutRangesIntoPiecesAtBufferBoundaries() {
    float[] a = {0, 1, 2};
    float[] empty = {};
    float[] b = {3, 4, 5, 6, 7};
    float[] c = {8};
    FlatBuffers flat = new FlatBuffers(java.util.List.of(a, empty, b, c));
    assertEquals(9, flat.size());
    assertEquals(3, flat.bucketCount(4));
    assertEquals(1, flat.bucketLength(2, 4));
    float[] range = new float[7];
    java.util.List<String> pieces = new java.util.ArrayList<>();
    flat.forEachPiece(2, 7, (buffer, offset, count, done) -> {
      pieces.add(offset + "+" + count + "@" + done);
      System.arraycopy(buffer, offset, range, done, count);
    });
    assertEquals(java.util.List.of("2+1@0", "0+5@1", "0+1@6"), pieces);
    assertArrayEquals(new float[] {2, 3, 4, 5, 6, 7, 8}, range);
    pieces.clear();
    flat.forEachPiece(4, 2, (buffer, offset, count, done) -> pieces.add(offset + "+" + count));
    assertEquals(java.util.List.of("1+2"), pieces, "a range inside one buffer is one piece");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new FlatBuffers(java.util.List.of(empty, empty)));
    assertTrue(e.getMessage().contains("all empty"), e.getMessage());
  }
}
