package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.mobaspark.data.shard.ShardReader;
import io.mobaspark.data.shard.TokenDtype;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Shards written once by format version 1's writer and committed: if the reader, the writer's
 * schema or Arrow's encoding drifts, these stop reading back as they did. Do not regenerate them
 * to make this pass; a deliberate format change gets a new version and a new folder.
 */
class GoldenShardTest {
  private static final String TEXT = "Hello, MoBA!<|endoftext|>caf\u00e9<|endoftext|>";

  @ParameterizedTest
  @CsvSource({"uint16, bytes, 5", "int32, cl100k_base, 3"})
  void readsBackAsWritten(String folder, String tokenizer, int batches) throws Exception {
    Path dir = golden(folder);
    int[] expected = folder.equals("uint16")
        ? new int[] {72, 101, 108, 108, 111, 44, 32, 77, 111, 66, 65, 33, 256, 99, 97, 102, 195,
            169, 256}
        : new int[] {9906, 11, 6178, 7209, 0, 100257, 936, 59958, 100257};
    try (Dataset d = Dataset.open(dir)) {
      assertEquals(tokenizer, d.tokenizerName());
      assertEquals(TokenDtype.fromManifestName(folder), d.dtype());
      assertEquals(Tokenizers.byName(tokenizer).vocabSize(), d.vocabSize());
      assertEquals(Tokenizers.byName(tokenizer).eotId(), d.eotId());
      assertEquals(2, d.totalDocuments());
      ShardReader shard = d.shard(0);
      assertEquals(batches, shard.batchCount());
      int[] tokens = new int[(int) shard.tokens()];
      shard.read(0, tokens, 0, tokens.length);
      assertArrayEquals(expected, tokens);
      assertEquals(TEXT, Tokenizers.byName(tokenizer).decode(tokens));
    }
    assertSchema(dir.resolve("shard-00000.arrow"), TokenDtype.fromManifestName(folder));
  }

  /** The schema pyarrow sees: one non-nullable {@code tokens} of uint16 or int32. */
  private static void assertSchema(Path file, TokenDtype dtype) throws IOException {
    try (RootAllocator allocator = new RootAllocator();
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
      Field field = reader.getVectorSchemaRoot().getSchema().getFields().get(0);
      assertEquals(1, reader.getVectorSchemaRoot().getSchema().getFields().size());
      assertEquals("tokens", field.getName());
      assertFalse(field.isNullable());
      assertEquals(dtype == TokenDtype.UINT16
          ? new ArrowType.Int(16, false)
          : new ArrowType.Int(32, true), field.getType());
    }
  }

  private static Path golden(String folder) throws URISyntaxException {
    return Path.of(GoldenShardTest.class.getResource("/golden/format-v1/" + folder
        + "/manifest.json").toURI()).getParent();
  }
}
