package io.mobaspark.trainer.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Reads and writes the safetensors format (https://huggingface.co/docs/safetensors), so that
 * checkpoints and exported batches load in Python with {@code safetensors.numpy.load_file}:
 * <pre>
 *   8 bytes   little-endian u64 N: header length
 *   N bytes   UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets"}}
 *             padded with spaces to a multiple of 8 so that the data stays aligned
 *   rest      raw little-endian element data; data_offsets [begin, end) are relative to it
 * </pre>
 * Tensors are written in name order, back to back (the format forbids holes). Writing streams one
 * tensor at a time, so a checkpoint never needs a second copy of the whole model in memory.
 */
public final class SafeTensors {
  /** The reserved header key of the free-form string map. */
  public static final String METADATA_KEY = "__metadata__";

  static final ObjectMapper JSON = new ObjectMapper();
  static final int CHUNK_BYTES = 1 << 20;

  private SafeTensors() {}

  /** A whole file in memory. */
  public record Contents(Map<String, HostTensor> tensors, Map<String, String> metadata) {}

  /** Writes {@code tensors} (sorted by name) and {@code metadata} (may be empty) to {@code file}. */
  public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) {
    Map<String, TensorInfo> infos = new TreeMap<>();
    tensors.forEach((name, tensor) -> infos.put(name, tensor.info()));
    write(file, infos, tensors::get, metadata);
  }

  /**
   * Writes a file whose header is {@code infos} (written in name order), asking {@code values} for
   * one tensor at a time.
   *
   * @throws IllegalArgumentException for a bad name or metadata entry, or a value whose dtype or
   *     shape differs from its header entry
   * @throws UncheckedIOException when the file cannot be written
   */
  public static void write(Path file, Map<String, TensorInfo> infos,
      Function<String, HostTensor> values, Map<String, String> metadata) {
    Map<String, TensorInfo> sorted = new TreeMap<>(infos);
    byte[] header = header(file, sorted, metadata);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      buffer.putLong(header.length);
      flush(channel, buffer);
      writeFully(channel, ByteBuffer.wrap(header));
      for (Map.Entry<String, TensorInfo> entry : sorted.entrySet()) {
        HostTensor tensor = values.apply(entry.getKey());
        if (tensor == null || !tensor.info().equals(entry.getValue())) {
          throw new IllegalArgumentException("tensor '" + entry.getKey() + "' for " + file
              + " was declared as " + entry.getValue() + " but is "
              + (tensor == null ? "missing" : tensor.info()));
        }
        writeData(channel, buffer, tensor);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write safetensors file " + file, e);
    }
  }

  /** Reads a whole file into memory. */
  public static Contents read(Path file) {
    try (SafeTensorsReader reader = SafeTensorsReader.open(file)) {
      Map<String, HostTensor> tensors = new TreeMap<>();
      for (String name : reader.tensors().keySet()) {
        tensors.put(name, reader.read(name));
      }
      return new Contents(tensors, reader.metadata());
    }
  }

  private static byte[] header(Path file, Map<String, TensorInfo> sorted,
      Map<String, String> metadata) {
    ObjectNode root = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = root.putObject(METADATA_KEY);
      new TreeMap<>(metadata).forEach((key, value) -> {
        if (key == null || value == null) {
          throw new IllegalArgumentException(
              "metadata for " + file + " has a null key or value: " + key + "=" + value);
        }
        meta.put(key, value);
      });
    }
    long offset = 0;
    for (Map.Entry<String, TensorInfo> entry : sorted.entrySet()) {
      String name = entry.getKey();
      if (name == null || name.isEmpty() || name.equals(METADATA_KEY)) {
        throw new IllegalArgumentException("invalid tensor name '" + name + "' for " + file);
      }
      TensorInfo info = entry.getValue();
      ObjectNode node = root.putObject(name);
      node.put("dtype", info.dtype().name());
      ArrayNode shape = node.putArray("shape");
      for (int d : info.shape()) {
        shape.add(d);
      }
      node.putArray("data_offsets").add(offset).add(offset + info.byteSize());
      offset += info.byteSize();
    }
    byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
    // Pad with spaces (valid JSON whitespace) so that the data section starts 8-byte aligned.
    int padded = (json.length + 7) / 8 * 8;
    byte[] header = new byte[padded];
    System.arraycopy(json, 0, header, 0, json.length);
    for (int i = json.length; i < padded; i++) {
      header[i] = ' ';
    }
    return header;
  }

  private static void writeData(FileChannel channel, ByteBuffer buffer, HostTensor tensor)
      throws IOException {
    DType dtype = tensor.dtype();
    int count = (int) tensor.info().numel();
    double[] floats = tensor.floatsView();
    int[] ints = tensor.intsView();
    for (int i = 0; i < count; i++) {
      if (buffer.remaining() < dtype.bytes()) {
        flush(channel, buffer);
      }
      switch (dtype) {
        case F32 -> buffer.putFloat((float) floats[i]);
        case F64 -> buffer.putDouble(floats[i]);
        case I32 -> buffer.putInt(ints[i]);
      }
    }
    flush(channel, buffer);
  }

  private static void flush(FileChannel channel, ByteBuffer buffer) throws IOException {
    buffer.flip();
    writeFully(channel, buffer);
    buffer.clear();
  }

  private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }
}
