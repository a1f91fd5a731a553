package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ManifestException;
import io.mobaspark.data.shard.ShardFormatException;
import io.mobaspark.data.shard.TokenDtype;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTest {
  @TempDir Path dir;

  @Test
  void opensAndReportsTheManifest() throws IOException {
    try (Dataset d = Dataset.open(TestDatasets.positions(dir, 100, 50))) {
      assertEquals("positions", d.tokenizerName());
      assertEquals(TestDatasets.POSITION_VOCAB, d.vocabSize());
      assertEquals(TestDatasets.POSITION_VOCAB - 1, d.eotId());
      assertEquals(TokenDtype.INT32, d.dtype());
      assertEquals(150, d.totalTokens());
      assertEquals(0, d.totalDocuments());
      assertEquals(2, d.shardCount());
      assertEquals(120, d.shard(1).token(20));
      assertThrows(IndexOutOfBoundsException.class, () -> d.shard(2));
    }
  }

  @Test
  void missingShardIsNamed() throws IOException {
    TestDatasets.positions(dir, 100, 50);
    Path shard = dir.resolve("shard-00001.arrow");
    Files.delete(shard);
    NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> Dataset.open(dir));
    assertTrue(e.getMessage().contains(shard.toString()), e.getMessage());
  }

  @Test
  void corruptShardIsNamed() throws IOException {
    TestDatasets.positions(dir, 100, 50);
    Path shard = dir.resolve("shard-00000.arrow");
    byte[] bytes = Files.readAllBytes(shard);
    // Anywhere: with verification on, the checksum is compared before the layout is parsed.
    bytes[bytes.length / 3] ^= 0x40;
    Files.write(shard, bytes);
    ShardFormatException e = assertThrows(ShardFormatException.class, () -> Dataset.open(dir));
    assertTrue(e.getMessage().contains(shard.toString())
        && e.getMessage().contains("sha256 mismatch"), e.getMessage());
  }

  @Test
  void missingManifestAndInvalidManifestAreNamed() throws IOException {
    Path manifest = dir.resolve(Manifest.FILE_NAME);
    NoSuchFileException missing =
        assertThrows(NoSuchFileException.class, () -> Dataset.open(dir));
    assertTrue(missing.getMessage().contains(manifest.toString()), missing.getMessage());
    Files.writeString(manifest, "{\"formatVersion\": 99}");
    ManifestException invalid = assertThrows(ManifestException.class, () -> Dataset.open(dir));
    assertTrue(invalid.getMessage().contains(manifest.toString())
        && invalid.getMessage().contains("formatVersion 99"), invalid.getMessage());
  }
}
