package io.mobaspark.data.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

/** Every way a shard can be wrong ends in an error that names the file. */
class ShardReaderErrorsTest {
  @TempDir Path dir;
  private Path file;
  private ShardInfo info;

  @BeforeEach
  void writeShard() throws IOException {
    info = ShardWriterReaderTest.write(dir, "shard-00000.arrow", 300, 299,
        ShardWriterReaderTest.randomTokens(300, 7));
    file = dir.resolve(info.file());
  }

  @Test
  void flippedByteIsAChecksumMismatch() throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ArrowShardLayout layout = ArrowShardLayout.parse(file, ByteBuffer.wrap(bytes));
    int firstValueOfBatch3 = layout.segments().get(3).byteOffset();
    int before;
    try (ShardReader r = ShardReader.open(file)) {
      before = r.token(layout.segments().get(3).firstToken());
    }
    bytes[firstValueOfBatch3] ^= 0x01;
    Files.write(file, bytes);
    String message = failure(ShardFormatException.class,
        () -> ShardReader.open(file, info, TokenDtype.UINT16, true));
    assertTrue(message.contains("sha256 mismatch"), message);
    // Without verification a flipped token goes unnoticed: that is what the flag trades away.
    try (ShardReader r = ShardReader.open(file, info, TokenDtype.UINT16, false)) {
      assertEquals(before ^ 1, r.token(layout.segments().get(3).firstToken()));
    }
  }

  @Test
  void truncatedFileIsCaughtBySizeAndByFooter() throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(bytes, bytes.length - 20));
    String message = failure(ShardFormatException.class,
        () -> ShardReader.open(file, info, TokenDtype.UINT16, false));
    assertTrue(message.contains("truncated"), message);
    message = failure(ShardFormatException.class, () -> ShardReader.open(file));
    assertTrue(message.contains("magic") || message.contains("footer"), message);
  }

  @Test
  void missingFile() throws IOException {
    Files.delete(file);
    String message = failure(NoSuchFileException.class,
        () -> ShardReader.open(file, info, TokenDtype.UINT16, true));
    assertTrue(message.contains("missing"), message);
  }

  @Test
  void dtypeMismatchWithTheManifest() {
    String message = failure(ShardFormatException.class,
        () -> ShardReader.open(file, info, TokenDtype.INT32, true));
    assertTrue(message.contains("dtype mismatch") && message.contains("uint16"), message);
  }

  @Test
  void tokenCountMismatchWithTheManifest() {
    ShardInfo wrong = new ShardInfo(info.file(), info.tokens() + 1, info.documents(),
        info.bytes(), info.sha256());
    String message = failure(ShardFormatException.class,
        () -> ShardReader.open(file, wrong, TokenDtype.UINT16, false));
    assertTrue(message.contains("tokens"), message);
  }

  @Test
  void notAnArrowFile() throws IOException {
    Files.writeString(file, "this is a text file pretending to be a shard");
    String message = failure(ShardFormatException.class, () -> ShardReader.open(file));
    assertTrue(message.contains("bad magic"), message);
  }

  @Test
  void corruptFooterLength() throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    int lengthAt = bytes.length - 10;
    bytes[lengthAt + 3] = 0x7F;
    Files.write(file, bytes);
    String message = failure(ShardFormatException.class, () -> ShardReader.open(file));
    assertTrue(message.contains("footer"), message);
  }

  private <T extends Throwable> String failure(Class<T> type, Executable open) {
    String message = assertThrows(type, open).getMessage();
    assertTrue(message.contains(file.toString()), "must name " + file + ": " + message);
    return message;
  }
}
