package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/**
 * A shard memory-mapped read-only: tokens are read straight from the page cache, never copied into
 * the Java heap or Arrow buffers, so every training rank can map its shards at no memory cost.
 *
 * <p>Safe for concurrent reads. The mapping is released by the garbage collector, not by
 * {@link #close} (Java has no supported unmap); close only makes later reads fail loudly.
 */
public final class ShardReader implements AutoCloseable {
  private final Path file;
  private final TokenDtype dtype;
  private final long tokens;
  private final long[] segmentFirstToken;
  private final int[] segmentByteOffset;
  private volatile MappedByteBuffer map;

  private ShardReader(Path file, MappedByteBuffer map, ArrowShardLayout layout) {
    this.file = file;
    this.map = map;
    this.dtype = layout.dtype();
    this.tokens = layout.tokens();
    List<ArrowShardLayout.Segment> segments = layout.segments();
    this.segmentFirstToken = new long[segments.size()];
    this.segmentByteOffset = new int[segments.size()];
    for (int i = 0; i < segments.size(); i++) {
      segmentFirstToken[i] = segments.get(i).firstToken();
      segmentByteOffset[i] = segments.get(i).byteOffset();
    }
  }

  /**
   * Maps {@code file} as a stand-alone shard: the dtype comes from its schema and nothing is
   * checked against a manifest.
   *
   * @throws NoSuchFileException when the file does not exist
   * @throws ShardFormatException when it is not a shard (bad magic, footer, schema, batches)
   */
  public static ShardReader open(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("shard file is null");
    }
    MappedByteBuffer map = map(file);
    return new ShardReader(file, map, ArrowShardLayout.parse(file, map));
  }

  /**
   * Maps {@code file} and checks it against its manifest entry: size, dtype, token count, and with
   * {@code verifyChecksum} its SHA-256 (a full read of the file).
   *
   * @throws NoSuchFileException when the file does not exist
   * @throws ShardFormatException naming the file: size differs (truncated), checksum differs, bad
   *     magic, unreadable footer, schema or dtype not the manifest's, token count differs
   */
  public static ShardReader open(Path file, ShardInfo expected, TokenDtype dtype,
      boolean verifyChecksum) throws IOException {
    if (file == null || expected == null || dtype == null) {
      throw new IllegalArgumentException("shard file, manifest entry and dtype must be non-null,"
          + " got " + file + ", " + expected + ", " + dtype);
    }
    MappedByteBuffer map = map(file);
    if (map.capacity() != expected.bytes()) {
      throw new ShardFormatException(file, "is " + map.capacity() + " bytes but the manifest says "
          + expected.bytes() + ": truncated, or rewritten after the manifest");
    }
    if (verifyChecksum) {
      String actual = sha256Hex(map);
      if (!actual.equals(expected.sha256())) {
        throw new ShardFormatException(file, "sha256 mismatch: file has " + actual
            + ", manifest says " + expected.sha256() + ": corrupt, or rewritten after the"
            + " manifest");
      }
    }
    ArrowShardLayout layout = ArrowShardLayout.parse(file, map);
    if (layout.dtype() != dtype) {
      throw new ShardFormatException(file, "dtype mismatch: schema column '" + ShardWriter.COLUMN
          + "' is " + layout.dtype() + " (" + layout.dtype().arrowType() + ") but the manifest"
          + " says " + dtype);
    }
    if (layout.tokens() != expected.tokens()) {
      throw new ShardFormatException(file, "holds " + layout.tokens()
          + " tokens but the manifest says " + expected.tokens());
    }
    return new ShardReader(file, map, layout);
  }

  private static MappedByteBuffer map(Path file) throws IOException {
    if (!Files.exists(file)) {
      throw new NoSuchFileException(file.toString(), null, "shard file is missing");
    }
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size > ShardWriter.MAX_SHARD_BYTES) {
        throw new ShardFormatException(file, "is " + size + " bytes; a shard must stay within "
            + ShardWriter.MAX_SHARD_BYTES + " bytes, the most Java can memory-map at once");
      }
      MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
      map.order(ByteOrder.LITTLE_ENDIAN);
      return map;
    }
  }

  private static String sha256Hex(MappedByteBuffer map) {
    MessageDigest sha256 = DigestingChannel.newSha256();
    sha256.update(map.duplicate());
    return HexFormat.of().formatHex(sha256.digest());
  }

  public Path file() {
    return file;
  }

  public TokenDtype dtype() {
    return dtype;
  }

  /** Token count, end-of-text tokens included. */
  public long tokens() {
    return tokens;
  }

  /** Record batches holding at least one token. */
  public int batchCount() {
    return segmentFirstToken.length;
  }

  /** The token at index {@code i}. */
  public int token(long i) {
    MappedByteBuffer bytes = requireOpen();
    if (i < 0 || i >= tokens) {
      throw new IndexOutOfBoundsException(
          "shard " + file + ": token index " + i + " outside [0, " + tokens + ")");
    }
    int s = segmentOf(i);
    return dtype.read(bytes, byteIndex(s, i));
  }

  /**
   * Copies tokens {@code [start, start+len)} into {@code dst[off, off+len)}, across record batch
   * boundaries.
   */
  public void read(long start, int[] dst, int off, int len) {
    MappedByteBuffer bytes = requireOpen();
    if (dst == null) {
      throw new IllegalArgumentException("shard " + file + ": dst is null");
    }
    Objects.checkFromIndexSize(off, len, dst.length);
    if (start < 0 || start > tokens - len) {
      throw new IndexOutOfBoundsException("shard " + file + ": tokens [" + start + ", "
          + (start + len) + ") outside [0, " + tokens + ")");
    }
    int copied = 0;
    int s = len == 0 ? 0 : segmentOf(start);
    while (copied < len) {
      long at = start + copied;
      long segmentEnd = s + 1 < segmentFirstToken.length ? segmentFirstToken[s + 1] : tokens;
      int n = (int) Math.min(len - copied, segmentEnd - at);
      int byteIndex = byteIndex(s, at);
      int step = dtype.bytesPerToken();
      for (int k = 0; k < n; k++) {
        dst[off + copied + k] = dtype.read(bytes, byteIndex + k * step);
      }
      copied += n;
      s++;
    }
  }

  private int segmentOf(long i) {
    int found = Arrays.binarySearch(segmentFirstToken, i);
    return found >= 0 ? found : -found - 2;
  }

  private int byteIndex(int segment, long i) {
    return segmentByteOffset[segment]
        + (int) (i - segmentFirstToken[segment]) * dtype.bytesPerToken();
  }

  private MappedByteBuffer requireOpen() {
    MappedByteBuffer bytes = map;
    if (bytes == null) {
      throw new IllegalStateException("shard " + file + " is closed");
    }
    return bytes;
  }

  @Override
  public void close() {
    map = null;
  }

  @Override
  public String toString() {
    return "ShardReader[" + file + ", " + tokens + " " + dtype + " tokens]";
  }
}
