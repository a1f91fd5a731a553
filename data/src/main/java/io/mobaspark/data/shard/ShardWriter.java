package io.mobaspark.data.shard;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * Writes one shard: an Arrow IPC file with a single non-nullable column {@code tokens}, in record
 * batches of at most {@code batchTokens} rows. Bytes go to a hidden temporary file in the target
 * folder, which is fsynced and renamed onto the final name only by {@link #finish}: a reader (or a
 * retried Spark task) sees either no shard or a complete one.
 *
 * <p>Not thread-safe; one writer per shard.
 */
public final class ShardWriter implements AutoCloseable {
  public static final String COLUMN = "tokens";
  /** 1 Mi tokens: 2-4 MiB batches, small enough to build in memory, few enough to index. */
  public static final int DEFAULT_BATCH_TOKENS = 1 << 20;
  /** A Java memory mapping holds at most {@code Integer.MAX_VALUE} bytes, so a shard must too. */
  public static final long MAX_SHARD_BYTES = Integer.MAX_VALUE;

  // Upper bounds of what a file holds besides token values, to refuse an oversized shard before
  // writing it: magic, schema and footer; and per batch its metadata, padding and footer block.
  // Arrow Java 18 writes about 500 bytes and under 200 bytes per batch (validity is counted apart).
  private static final long FIXED_OVERHEAD_BYTES = 64 * 1024;
  private static final long BATCH_OVERHEAD_BYTES = 1024;

  private final Path target;
  private final Path temp;
  private final TokenDtype dtype;
  private final int vocabSize;
  private final int eotId;
  private final int batchTokens;
  private final long maxFileBytes;
  private final FileChannel file;
  private final DigestingChannel channel;
  private final BufferAllocator allocator;
  private final BaseFixedWidthVector vector;
  private final VectorSchemaRoot root;
  private final ArrowFileWriter arrow;
  private final int[] pending;
  /** Tokens in {@code pending}, not yet in a record batch. */
  private int pendingCount;
  /** Tokens accepted by {@link #write}, pending ones included. */
  private long tokens;
  private long documents;
  private boolean done;
  private boolean arrowReleased;

  private ShardWriter(Path dir, String fileName, int vocabSize, int eotId, int batchTokens,
      long maxFileBytes) throws IOException {
    this.target = dir.resolve(fileName);
    this.dtype = TokenDtype.forVocab(vocabSize);
    this.vocabSize = vocabSize;
    this.eotId = eotId;
    this.batchTokens = batchTokens;
    this.maxFileBytes = maxFileBytes;
    this.pending = new int[batchTokens];
    this.temp = AtomicFiles.createTemp(target);
    this.file = FileChannel.open(temp, StandardOpenOption.WRITE);
    this.channel = new DigestingChannel(file);
    this.allocator = new RootAllocator();
    Field field = new Field(COLUMN, FieldType.notNullable(dtype.arrowType()), null);
    this.vector = dtype == TokenDtype.UINT16
        ? new UInt2Vector(field, allocator)
        : new IntVector(field, allocator);
    vector.allocateNew(batchTokens);
    this.root = new VectorSchemaRoot(List.of(field), List.of(vector));
    this.arrow = new ArrowFileWriter(root, null, channel);
    try {
      arrow.start();
    } catch (IOException | RuntimeException e) {
      done = true;
      abort(e);
      throw e;
    }
  }

  /** A writer with {@link #DEFAULT_BATCH_TOKENS} per record batch. */
  public static ShardWriter create(Path dir, String fileName, int vocabSize, int eotId)
      throws IOException {
    return create(dir, fileName, vocabSize, eotId, DEFAULT_BATCH_TOKENS);
  }

  /**
   * A writer for {@code dir/fileName}, which it replaces on {@link #finish}. The dtype follows from
   * {@code vocabSize} ({@link TokenDtype#forVocab}); {@code eotId} is counted as a document end.
   */
  public static ShardWriter create(Path dir, String fileName, int vocabSize, int eotId,
      int batchTokens) throws IOException {
    return create(dir, fileName, vocabSize, eotId, batchTokens, MAX_SHARD_BYTES);
  }

  /** As {@link #create(Path, String, int, int, int)} with a lower size limit, for tests. */
  static ShardWriter create(Path dir, String fileName, int vocabSize, int eotId, int batchTokens,
      long maxFileBytes) throws IOException {
    if (dir == null) {
      throw new IllegalArgumentException("shard folder is null");
    }
    ShardInfo.requireFileName(fileName);
    TokenDtype.forVocab(vocabSize);
    if (eotId < 0 || eotId >= vocabSize) {
      throw new IllegalArgumentException(
          "eotId must be in [0, vocabSize=" + vocabSize + "), got " + eotId);
    }
    if (batchTokens < 1) {
      throw new IllegalArgumentException("batchTokens must be >= 1, got " + batchTokens);
    }
    return new ShardWriter(dir, fileName, vocabSize, eotId, batchTokens, maxFileBytes);
  }

  /** The most tokens one shard of {@code dtype} can hold while staying within 2 GiB. */
  public static long maxTokens(TokenDtype dtype, int batchTokens) {
    return maxTokens(dtype, batchTokens, MAX_SHARD_BYTES);
  }

  static long maxTokens(TokenDtype dtype, int batchTokens, long maxFileBytes) {
    long lo = 0;
    long hi = maxFileBytes;
    while (lo < hi) {
      long mid = (lo + hi + 1) >>> 1;
      if (boundOnFileBytes(dtype, batchTokens, mid) <= maxFileBytes) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  private static long boundOnFileBytes(TokenDtype dtype, int batchTokens, long tokens) {
    long batches = (tokens + batchTokens - 1) / batchTokens;
    long validityBytes = (tokens + 7) / 8;
    return FIXED_OVERHEAD_BYTES + batches * BATCH_OVERHEAD_BYTES + validityBytes
        + tokens * dtype.bytesPerToken();
  }

  public TokenDtype dtype() {
    return dtype;
  }

  /** Tokens written so far, including those not yet in a record batch. */
  public long tokens() {
    return tokens;
  }

  public void write(int[] ids) throws IOException {
    if (ids == null) {
      throw new IllegalArgumentException("shard " + target + ": ids to write are null");
    }
    write(ids, 0, ids.length);
  }

  /**
   * Appends {@code ids[off, off+len)}.
   *
   * @throws IllegalArgumentException naming the shard, position and value of an id outside the
   *     vocabulary
   * @throws IllegalStateException when the shard would exceed 2 GiB (or the test limit); nothing
   *     of {@code ids} is written then
   */
  public void write(int[] ids, int off, int len) throws IOException {
    requireOpen();
    if (ids == null) {
      throw new IllegalArgumentException("shard " + target + ": ids to write are null");
    }
    Objects.checkFromIndexSize(off, len, ids.length);
    long projected = boundOnFileBytes(dtype, batchTokens, tokens + len);
    if (projected > maxFileBytes) {
      throw new IllegalStateException("shard " + target + ": " + (tokens + len) + " " + dtype
          + " tokens would make a file of up to " + projected + " bytes, over the limit of "
          + maxFileBytes + " bytes (Java maps at most 2 GiB); at most "
          + maxTokens(dtype, batchTokens, maxFileBytes) + " tokens fit, start another shard");
    }
    int endsOfText = 0;
    for (int i = off; i < off + len; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw new IllegalArgumentException("shard " + target + ": ids[" + i + "] = " + ids[i]
            + " is outside the vocabulary [0, " + vocabSize + ")");
      }
      if (ids[i] == eotId) {
        endsOfText++;
      }
    }
    documents += endsOfText;
    tokens += len;
    int i = off;
    int end = off + len;
    while (i < end) {
      int n = Math.min(end - i, batchTokens - pendingCount);
      System.arraycopy(ids, i, pending, pendingCount, n);
      pendingCount += n;
      i += n;
      if (pendingCount == batchTokens) {
        flushBatch();
      }
    }
  }

  private void flushBatch() throws IOException {
    if (dtype == TokenDtype.UINT16) {
      UInt2Vector v = (UInt2Vector) vector;
      for (int i = 0; i < pendingCount; i++) {
        v.set(i, pending[i]);
      }
    } else {
      IntVector v = (IntVector) vector;
      for (int i = 0; i < pendingCount; i++) {
        v.set(i, pending[i]);
      }
    }
    root.setRowCount(pendingCount);
    arrow.writeBatch();
    pendingCount = 0;
  }

  /**
   * Writes the last batch and the footer, fsyncs, and renames the file onto its final name.
   *
   * @return the shard as the manifest lists it
   * @throws IllegalStateException when no token was written (a shard is never empty)
   */
  public ShardInfo finish() throws IOException {
    requireOpen();
    if (tokens == 0) {
      throw new IllegalStateException("shard " + target + ": no tokens written; a shard is never"
          + " empty");
    }
    done = true;
    try {
      if (pendingCount > 0) {
        flushBatch();
      }
      arrow.end();
      file.force(true);
      releaseArrow();
      file.close();
      AtomicFiles.commit(temp, target);
    } catch (IOException | RuntimeException e) {
      abort(e);
      throw e;
    }
    return new ShardInfo(target.getFileName().toString(), tokens, documents, channel.bytes(),
        channel.sha256Hex());
  }

  /** Discards an unfinished shard: deletes the temporary file. A no-op after {@link #finish}. */
  @Override
  public void close() throws IOException {
    if (!done) {
      done = true;
      IOException failure = new IOException("shard " + target + ": discarding failed");
      abort(failure);
      if (failure.getSuppressed().length > 0) {
        throw failure;
      }
    }
  }

  /** Releases everything and deletes the temporary file; failures are added to {@code cause}. */
  private void abort(Exception cause) {
    try {
      releaseArrow();
    } catch (RuntimeException e) {
      cause.addSuppressed(e);
    }
    try {
      file.close();
      Files.deleteIfExists(temp);
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
  }

  private void releaseArrow() {
    if (!arrowReleased) {
      arrowReleased = true;
      // ArrowWriter.close() writes the footer if end() has not: harmless on a file being deleted.
      arrow.close();
      root.close();
      allocator.close();
    }
  }

  private void requireOpen() {
    if (done) {
      throw new IllegalStateException("shard " + target + " is already finished or closed");
    }
  }
}
