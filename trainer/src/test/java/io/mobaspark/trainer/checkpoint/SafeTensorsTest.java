package io.mobaspark.trainer.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path dir;

  @Test
  void roundTripsEveryDtypeShapeAndTheMetadata() {
    Map<String, HostTensor> tensors = new LinkedHashMap<>();
    tensors.put("layers.0.wq.weight", HostTensor.f32(new int[] {2, 3},
        new double[] {1.5, -2.25, 0, 1e-30f, Float.MAX_VALUE, -0.1f}));
    tensors.put("tokens", HostTensor.i32(new int[] {2, 2}, new int[] {0, -1, 50256, Integer.MAX_VALUE}));
    tensors.put("precise", HostTensor.f64(new int[] {2}, new double[] {Math.PI, -1e-300}));
    tensors.put("scalar", HostTensor.f32(new int[] {}, new double[] {4}));
    tensors.put("empty", HostTensor.f32(new int[] {0, 5}, new double[] {}));
    Path file = dir.resolve("t.safetensors");
    SafeTensors.write(file, tensors, Map.of("format", "pt", "step", "7"));

    SafeTensors.Contents read = SafeTensors.read(file);
    assertEquals(Map.of("format", "pt", "step", "7"), read.metadata());
    assertEquals(tensors.keySet(), read.tensors().keySet());
    for (Map.Entry<String, HostTensor> e : tensors.entrySet()) {
      HostTensor back = read.tensors().get(e.getKey());
      assertEquals(e.getValue().info(), back.info(), e.getKey());
      if (back.dtype() == DType.I32) {
        assertArrayEquals(e.getValue().ints(), back.ints(), e.getKey());
      } else {
        assertArrayEquals(e.getValue().floats(), back.floats(), 0, e.getKey());
      }
    }
  }

  @Test
  void headerAndDataAreLaidOutAsTheFormatSpecifies() throws Exception {
    Map<String, HostTensor> tensors = new LinkedHashMap<>();
    tensors.put("b", HostTensor.f32(new int[] {2}, new double[] {1.5, -2}));
    tensors.put("a", HostTensor.i32(new int[] {1}, new int[] {7}));
    Path file = dir.resolve("layout.safetensors");
    SafeTensors.write(file, tensors, Map.of("k", "v"));

    byte[] bytes = Files.readAllBytes(file);
    long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, headerLength % 8, "data starts 8-byte aligned");
    assertEquals(8 + headerLength + 12, bytes.length);
    String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
    assertEquals("{\"__metadata__\":{\"k\":\"v\"},"
        + "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", header.stripTrailing());
    assertTrue(header.substring(header.stripTrailing().length()).chars().allMatch(c -> c == ' '));
    byte[] data = Arrays.copyOfRange(bytes, (int) (8 + headerLength), bytes.length);
    assertArrayEquals(new byte[] {7, 0, 0, 0, 0, 0, (byte) 0xC0, 0x3F, 0, 0, 0, (byte) 0xC0}, data,
        "I32 7, then F32 1.5 and -2.0, little-endian, in name order");
  }

  @Test
  void readsOneTensorAtATime() {
    Path file = dir.resolve("lazy.safetensors");
    SafeTensors.write(file, Map.of("x", HostTensor.f32(new int[] {3}, new double[] {1, 2, 3}),
        "y", HostTensor.i32(new int[] {1}, new int[] {9})), Map.of());
    try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
      assertEquals(new TensorInfo(DType.I32, new int[] {1}), reader.tensors().get("y"));
      assertArrayEquals(new double[] {1, 2, 3}, reader.read("x").floats(), 0);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> reader.read("z"));
      assertTrue(e.getMessage().contains("'z'"), e.getMessage());
    }
  }

  @Test
  void largeTensorsCrossTheIoChunkBoundary() {
    int n = SafeTensors.CHUNK_BYTES / 4 * 2 + 3;
    double[] values = new double[n];
    for (int i = 0; i < n; i++) {
      values[i] = (float) (i * 0.5 - 7);
    }
    Path file = dir.resolve("big.safetensors");
    SafeTensors.write(file, Map.of("big", HostTensor.f32(new int[] {n}, values)), Map.of());
    assertArrayEquals(values, SafeTensors.read(file).tensors().get("big").floats(), 0);
  }

  @Test
  void refusesTruncatedAndForeignFilesNamingTheFile() throws Exception {
    Path file = dir.resolve("cut.safetensors");
    SafeTensors.write(file, Map.of("x", HostTensor.f32(new int[] {4}, new double[4])), Map.of());
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 1));
    IllegalArgumentException cut =
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsReader.open(file));
    assertTrue(cut.getMessage().contains(file.toString()), cut.getMessage());

    Path bf16 = dir.resolve("bf16.safetensors");
    byte[] header = "{\"h\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}"
        .getBytes(StandardCharsets.UTF_8);
    ByteBuffer buffer = ByteBuffer.allocate(8 + header.length + 2).order(ByteOrder.LITTLE_ENDIAN);
    buffer.putLong(header.length).put(header).putShort((short) 0);
    Files.write(bf16, buffer.array());
    IllegalArgumentException dtype =
        assertThrows(IllegalArgumentException.class, () -> SafeTensorsReader.open(bf16));
    assertTrue(dtype.getMessage().contains("'h'") && dtype.getMessage().contains("BF16"),
        dtype.getMessage());

    Path text = dir.resolve("text.safetensors");
    Files.writeString(text, "definitely not a tensor file");
    assertThrows(IllegalArgumentException.class, () -> SafeTensorsReader.open(text));
  }

  @Test
  void rejectsValuesThatDoNotMatchTheirShape() {
    assertThrows(IllegalArgumentException.class,
        () -> HostTensor.f32(new int[] {2, 2}, new double[] {1, 2, 3}));
    assertThrows(IllegalStateException.class,
        () -> HostTensor.i32(new int[] {1}, new int[] {1}).floats());
  }
}
