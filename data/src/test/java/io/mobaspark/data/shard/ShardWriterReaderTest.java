package io.mobaspark.data.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardWriterReaderTest {
  @TempDir Path dir;

  /** Awkward sizes: batches of 7, written in chunks that straddle batch edges. */
  private static final int BATCH = 7;
  private static final int TOKENS = 113;

  @Test
  void uint16RoundTripsAcrossBatchesIncludingTheTopId() throws IOException {
    int vocab = TokenDtype.UINT16_MAX_VOCAB;
    int[] tokens = randomTokens(vocab, 1);
    tokens[50] = vocab - 1;
    roundTrip(tokens, vocab, TokenDtype.UINT16);
  }

  @Test
  void int32RoundTripsAcrossBatches() throws IOException {
    int vocab = 100277;
    int[] tokens = randomTokens(vocab, 2);
    tokens[3] = vocab - 1;
    roundTrip(tokens, vocab, TokenDtype.INT32);
  }

  private void roundTrip(int[] tokens, int vocab, TokenDtype dtype) throws IOException {
    int eot = 0;
    ShardInfo info;
    try (ShardWriter w = ShardWriter.create(dir, "s-00000.arrow", vocab, eot, BATCH)) {
      assertEquals(dtype, w.dtype());
      w.write(tokens, 0, 5);
      assertEquals(5, w.tokens(), "tokens() counts tokens not yet in a batch");
      w.write(tokens, 5, 0);
      w.write(tokens, 5, 30);
      w.write(tokens, 35, TOKENS - 35);
      info = w.finish();
    }
    Path file = dir.resolve("s-00000.arrow");
    assertEquals("s-00000.arrow", info.file());
    assertEquals(TOKENS, info.tokens());
    assertEquals(Arrays.stream(tokens).filter(t -> t == eot).count(), info.documents());
    assertEquals(Files.size(file), info.bytes());
    assertEquals(sha256(file), info.sha256());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temporary file may be left behind");
    }

    try (ShardReader r = ShardReader.open(file, info, dtype, true)) {
      assertEquals(TOKENS, r.tokens());
      assertEquals(dtype, r.dtype());
      assertEquals((TOKENS + BATCH - 1) / BATCH, r.batchCount());
      for (int i = 0; i < TOKENS; i++) {
        assertEquals(tokens[i], r.token(i), "token " + i);
      }
      for (int start = 0; start < TOKENS; start += 3) {
        for (int len = 0; start + len <= TOKENS; len += 5) {
          int[] dst = new int[len + 2];
          r.read(start, dst, 1, len);
          for (int k = 0; k < len; k++) {
            assertEquals(tokens[start + k], dst[1 + k], "read(" + start + ", " + len + ")");
          }
        }
      }
      assertThrows(IndexOutOfBoundsException.class, () -> r.token(TOKENS));
      assertThrows(IndexOutOfBoundsException.class, () -> r.read(TOKENS - 2, new int[3], 0, 3));
    }
    assertArrayEquals(tokens, readWithArrowJava(file, dtype));
  }

  /** Arrow Java's own reader (the format pyarrow shares) must see the same schema and values. */
  private static int[] readWithArrowJava(Path file, TokenDtype dtype) throws IOException {
    try (RootAllocator allocator = new RootAllocator();
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
      VectorSchemaRoot root = reader.getVectorSchemaRoot();
      List<Field> fields = root.getSchema().getFields();
      assertEquals(1, fields.size());
      Field field = fields.get(0);
      assertEquals("tokens", field.getName());
      assertFalse(field.isNullable());
      ArrowType expected = dtype == TokenDtype.UINT16
          ? new ArrowType.Int(16, false)
          : new ArrowType.Int(32, true);
      assertEquals(expected, field.getType());
      int[] values = new int[TOKENS];
      int n = 0;
      for (ArrowBlock block : reader.getRecordBlocks()) {
        assertTrue(reader.loadRecordBatch(block));
        BaseIntVector v = (BaseIntVector) root.getVector(0);
        for (int i = 0; i < root.getRowCount(); i++) {
          values[n++] = (int) v.getValueAsLong(i);
        }
      }
      assertEquals(TOKENS, n);
      return values;
    }
  }

  @Test
  void standAloneOpenTakesTheDtypeFromTheSchema() throws IOException {
    int[] tokens = randomTokens(300, 3);
    ShardInfo info = write(dir, "a.arrow", 300, 299, tokens);
    try (ShardReader r = ShardReader.open(dir.resolve(info.file()))) {
      assertEquals(TokenDtype.UINT16, r.dtype());
      assertEquals(tokens[TOKENS - 1], r.token(TOKENS - 1));
    }
  }

  @Test
  void closedReaderRefusesReads() throws IOException {
    ShardInfo info = write(dir, "a.arrow", 300, 299, randomTokens(300, 4));
    ShardReader r = ShardReader.open(dir.resolve(info.file()));
    r.close();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.token(0));
    assertTrue(e.getMessage().contains("a.arrow"), e.getMessage());
  }

  @Test
  void rejectsIdsOutsideTheVocabularyNamingPositionAndValue() throws IOException {
    try (ShardWriter w = ShardWriter.create(dir, "bad.arrow", 300, 0)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> w.write(new int[] {1, 2, 300}));
      assertTrue(e.getMessage().contains("bad.arrow") && e.getMessage().contains("ids[2] = 300"),
          e.getMessage());
    }
    assertFalse(Files.exists(dir.resolve("bad.arrow")));
  }

  @Test
  void closeWithoutFinishLeavesNothing() throws IOException {
    try (ShardWriter w = ShardWriter.create(dir, "unfinished.arrow", 300, 0)) {
      w.write(new int[] {1, 2, 3});
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(0, files.count());
    }
  }

  @Test
  void refusesEmptyShardsAndBadNames() throws IOException {
    try (ShardWriter w = ShardWriter.create(dir, "empty.arrow", 300, 0)) {
      assertThrows(IllegalStateException.class, w::finish);
    }
    for (String name : new String[] {"x.bin", "../x.arrow", ".hidden.arrow", "a/b.arrow"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ShardWriter.create(dir, name, 300, 0));
      assertTrue(e.getMessage().contains(name), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> ShardWriter.create(dir, "a.arrow", 300, 300));
  }

  @Test
  void refusesAShardThatWouldPassTheSizeLimit() throws IOException {
    long limit = 200_000;
    long fits = ShardWriter.maxTokens(TokenDtype.UINT16, 1024, limit);
    assertTrue(fits > 0 && fits < limit / 2, "fits " + fits);
    try (ShardWriter w = ShardWriter.create(dir, "big.arrow", 300, 0, 1024, limit)) {
      w.write(new int[(int) fits]);
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> w.write(new int[] {1}));
      assertTrue(e.getMessage().contains("big.arrow") && e.getMessage().contains("2 GiB"),
          e.getMessage());
      ShardInfo info = w.finish();
      assertTrue(info.bytes() <= limit, info.bytes() + " bytes");
    }
    // The real limit: a uint16 shard holds about a billion tokens.
    long max = ShardWriter.maxTokens(TokenDtype.UINT16, ShardWriter.DEFAULT_BATCH_TOKENS);
    assertTrue(max > 1_000_000_000L && max * 2 < Integer.MAX_VALUE, "max " + max);
  }

  static ShardInfo write(Path dir, String name, int vocab, int eot, int[] tokens)
      throws IOException {
    try (ShardWriter w = ShardWriter.create(dir, name, vocab, eot, BATCH)) {
      w.write(tokens);
      return w.finish();
    }
  }

  static int[] randomTokens(int vocab, long seed) {
    return new SplittableRandom(seed).ints(TOKENS, 0, vocab).toArray();
  }

  static String sha256(Path file) throws IOException {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
