package io.mobaspark.data.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
  @TempDir Path dir;

  private static final String SHA = "0123456789abcdef".repeat(4);

  private static Manifest sample() {
    return Manifest.of("r50k_base", 50257, 50256, List.of(
        new ShardInfo("shard-00000.arrow", 1000, 3, 2400, SHA),
        new ShardInfo("shard-00001.arrow", 500, 2, 1400, SHA)));
  }

  @Test
  void writesAndReadsBack() throws IOException {
    Manifest m = sample();
    assertEquals(TokenDtype.UINT16, m.dtype());
    assertEquals(1500, m.totalTokens());
    assertEquals(5, m.totalDocuments());
    Path file = dir.resolve(Manifest.FILE_NAME);
    m.write(file);
    assertEquals(m, Manifest.read(file));
    assertEquals(TokenDtype.INT32, Manifest.of("cl100k_base", 100277, 100257,
        m.shards()).dtype());
  }

  @Test
  void unknownFormatVersion() throws IOException {
    String message = readFailure(json().replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"));
    assertTrue(message.contains("formatVersion 2"), message);
  }

  @Test
  void missingFieldsAreNamed() throws IOException {
    String message = readFailure(json().replace("\"vocabSize\" : 50257,", ""));
    assertTrue(message.contains("'vocabSize'"), message);
    message = readFailure(json().replaceFirst("\"sha256\" : \"[0-9a-f]+\"", "\"x\" : 1"));
    assertTrue(message.contains("'shards[0].sha256'"), message);
  }

  @Test
  void invalidValuesAreNamed() throws IOException {
    String message = readFailure(json().replace("\"totalTokens\" : 1500", "\"totalTokens\" : 7"));
    assertTrue(message.contains("totalTokens 7"), message);
    message = readFailure(json().replace("\"uint16\"", "\"float32\""));
    assertTrue(message.contains("dtype") && message.contains("float32"), message);
    message = readFailure(json().replace("shard-00001.arrow", "../escape.arrow"));
    assertTrue(message.contains("shards[1]") && message.contains("../escape.arrow"), message);
    message = readFailure(json().replace("\"eotId\" : 50256", "\"eotId\" : 50257"));
    assertTrue(message.contains("eotId"), message);
    message = readFailure("{ not json");
    assertTrue(message.contains("not valid JSON"), message);
  }

  @Test
  void uint16CannotHoldALargeVocabulary() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Manifest(1, "cl100k_base", 100277, 100257, TokenDtype.UINT16,
            sample().shards(), 1500, 5));
    assertTrue(e.getMessage().contains("100277"), e.getMessage());
  }

  private String json() throws IOException {
    Path file = dir.resolve("source.json");
    sample().write(file);
    return Files.readString(file);
  }

  private String readFailure(String content) throws IOException {
    Path file = dir.resolve(Manifest.FILE_NAME);
    Files.writeString(file, content);
    String message = assertThrows(ManifestException.class, () -> Manifest.read(file)).getMessage();
    assertTrue(message.contains(file.toString()), "must name " + file + ": " + message);
    return message;
  }
}
