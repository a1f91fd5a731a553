package io.mobaspark.trainer.checkpoint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An open safetensors file (format: {@link SafeTensors}): the header is parsed and checked on open,
 * tensors are read one at a time on demand, so restoring a large model needs memory for one tensor
 * only. The checks mirror the Python loader's, so a file this class accepts, Python accepts too.
 */
public final class SafeTensorsReader implements AutoCloseable {
  /** The Python loader's limit; a larger "header" means a corrupt or foreign file. */
  private static final long MAX_HEADER_BYTES = 100_000_000;

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorInfo> infos = new TreeMap<>();
  private final Map<String, Long> begins = new TreeMap<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  private SafeTensorsReader(Path file, FileChannel channel) throws IOException {
    this.file = file;
    this.channel = channel;
    long size = channel.size();
    ByteBuffer lengthBytes = readAt(8, 0, "the header length");
    long headerLength = lengthBytes.order(ByteOrder.LITTLE_ENDIAN).getLong();
    if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
      throw corrupt("header length " + headerLength + " does not fit a file of " + size + " bytes");
    }
    this.dataStart = 8 + headerLength;
    ByteBuffer headerBytes = readAt((int) headerLength, 8, "the header");
    parseHeader(new String(headerBytes.array(), StandardCharsets.UTF_8), size - dataStart);
  }

  /**
   * Opens {@code file} and validates its header.
   *
   * @throws IllegalArgumentException when the file is not a well-formed safetensors file or uses a
   *     dtype other than F32, F64, I32 (the message names the file and the tensor)
   * @throws UncheckedIOException when the file cannot be read
   */
  public static SafeTensorsReader open(Path file) {
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.READ);
      return new SafeTensorsReader(file, channel);
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("cannot read safetensors file " + file, e);
    } catch (RuntimeException e) {
      closeQuietly(channel);
      throw e;
    }
  }

  /** Every tensor's dtype and shape, by name (sorted). */
  public Map<String, TensorInfo> tensors() {
    return Collections.unmodifiableMap(infos);
  }

  /** The {@code __metadata__} map, empty when the file has none. */
  public Map<String, String> metadata() {
    return Collections.unmodifiableMap(metadata);
  }

  /** Reads one tensor. */
  public HostTensor read(String name) {
    TensorInfo info = infos.get(name);
    if (info == null) {
      throw new IllegalArgumentException(
          "safetensors file " + file + " has no tensor '" + name + "'; it has " + infos.keySet());
    }
    if (info.numel() > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("tensor '" + name + "' in " + file + " has " + info.numel()
          + " elements, more than a Java array holds");
    }
    int count = (int) info.numel();
    long position = dataStart + begins.get(name);
    try {
      if (info.dtype() == DType.I32) {
        int[] values = new int[count];
        readElements(position, count, 4, (buffer, i) -> values[i] = buffer.getInt());
        return HostTensor.wrapInts(info, values);
      }
      double[] values = new double[count];
      if (info.dtype() == DType.F32) {
        readElements(position, count, 4, (buffer, i) -> values[i] = buffer.getFloat());
      } else {
        readElements(position, count, 8, (buffer, i) -> values[i] = buffer.getDouble());
      }
      return HostTensor.wrapFloats(info, values);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tensor '" + name + "' of " + file, e);
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close " + file, e);
    }
  }

  private interface ElementSink {
    void take(ByteBuffer buffer, int index);
  }

  private void readElements(long position, int count, int width, ElementSink sink)
      throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(SafeTensors.CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    int done = 0;
    while (done < count) {
      int n = Math.min(count - done, SafeTensors.CHUNK_BYTES / width);
      buffer.clear().limit(n * width);
      fill(buffer, position + (long) done * width);
      buffer.flip();
      for (int i = 0; i < n; i++) {
        sink.take(buffer, done + i);
      }
      done += n;
    }
  }

  private ByteBuffer readAt(int length, long position, String what) throws IOException {
    if (channel.size() < position + length) {
      throw corrupt("file is too short to hold " + what);
    }
    ByteBuffer buffer = ByteBuffer.allocate(length);
    fill(buffer, position);
    buffer.flip();
    return buffer;
  }

  private void fill(ByteBuffer buffer, long position) throws IOException {
    long at = position;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer, at);
      if (n < 0) {
        throw corrupt("unexpected end of file at byte " + at);
      }
      at += n;
    }
  }

  private void parseHeader(String json, long dataLength) {
    JsonNode root;
    try {
      root = SafeTensors.JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw corrupt("header is not valid JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) {
      throw corrupt("header is not a JSON object");
    }
    List<String> byOffset = new ArrayList<>();
    for (Map.Entry<String, JsonNode> field : root.properties()) {
      if (field.getKey().equals(SafeTensors.METADATA_KEY)) {
        parseMetadata(field.getValue());
      } else {
        parseTensor(field.getKey(), field.getValue());
        byOffset.add(field.getKey());
      }
    }
    // The format allows no holes and no overlap: tensors tile the data section exactly.
    byOffset.sort(Comparator.comparingLong(begins::get));
    long expected = 0;
    for (String name : byOffset) {
      if (begins.get(name) != expected) {
        throw corrupt("tensor '" + name + "' starts at data offset " + begins.get(name)
            + ", expected " + expected + " (tensors must be contiguous)");
      }
      expected += infos.get(name).byteSize();
    }
    if (expected != dataLength) {
      throw corrupt("tensors cover " + expected + " data bytes but the file holds " + dataLength);
    }
  }

  private void parseMetadata(JsonNode node) {
    if (!node.isObject()) {
      throw corrupt(SafeTensors.METADATA_KEY + " must be an object of strings");
    }
    node.properties().forEach(entry -> {
      if (!entry.getValue().isTextual()) {
        throw corrupt(SafeTensors.METADATA_KEY + " entry '" + entry.getKey() + "' is not a string");
      }
      metadata.put(entry.getKey(), entry.getValue().textValue());
    });
  }

  private void parseTensor(String name, JsonNode node) {
    JsonNode dtype = node.get("dtype");
    JsonNode shape = node.get("shape");
    JsonNode offsets = node.get("data_offsets");
    if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray() || offsets == null
        || !offsets.isArray() || offsets.size() != 2) {
      throw corrupt("tensor '" + name + "' needs dtype, shape and data_offsets [begin, end]");
    }
    DType type;
    try {
      type = DType.valueOf(dtype.textValue());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("tensor '" + name + "' in " + file + " has dtype "
          + dtype.textValue() + "; supported: F32, F64, I32");
    }
    int[] dims = new int[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      if (!shape.get(i).canConvertToInt() || shape.get(i).intValue() < 0) {
        throw corrupt("tensor '" + name + "' has an invalid shape " + shape);
      }
      dims[i] = shape.get(i).intValue();
    }
    TensorInfo info = new TensorInfo(type, dims);
    long begin = offsets.get(0).asLong(-1);
    long end = offsets.get(1).asLong(-1);
    if (begin < 0 || end - begin != info.byteSize()) {
      throw corrupt("tensor '" + name + "' " + info + " has data_offsets " + offsets + ", expected "
          + info.byteSize() + " bytes");
    }
    infos.put(name, info);
    begins.put(name, begin);
  }

  private IllegalArgumentException corrupt(String what) {
    return new IllegalArgumentException("not a valid safetensors file " + file + ": " + what);
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // The original failure is the one worth reporting.
      }
    }
  }
}
