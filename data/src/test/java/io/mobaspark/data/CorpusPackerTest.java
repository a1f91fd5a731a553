package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.shard.ShardInfo;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusPackerTest {
  @TempDir Path dir;

  private static final List<String> DOCS = List.of(
      "The first document.",
      "",
      "A second one, which mentions <|endoftext|> in its text.",
      "Third: caf\u00e9, na\u00efve, \uD83D\uDE80.",
      "",
      "Short.");

  @Test
  void documentsAreSeparatedByEndOfText() throws IOException {
    Tokenizer t = Tokenizers.byName("r50k_base");
    Manifest m = CorpusPacker.pack(DOCS.iterator(), t, dir, 10);
    assertEquals("r50k_base", m.tokenizer());
    assertEquals(4, m.totalDocuments(), "empty documents are skipped");
    int[] all = readAll(dir);
    assertEquals(m.totalTokens(), all.length);
    assertEquals(t.eotId(), all[all.length - 1]);
    List<String> decoded = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < all.length; i++) {
      if (all[i] == t.eotId()) {
        decoded.add(t.decode(Arrays.copyOfRange(all, start, i)));
        start = i + 1;
      }
    }
    assertEquals(DOCS.stream().filter(d -> !d.isEmpty()).toList(), decoded);
  }

  @Test
  void shardsAreFullExceptTheLast() throws IOException {
    Manifest m = CorpusPacker.pack(DOCS.iterator(), Tokenizers.byName("bytes"), dir, 16);
    List<ShardInfo> shards = m.shards();
    for (int i = 0; i < shards.size(); i++) {
      assertEquals(CorpusPacker.shardFileName("shard", i), shards.get(i).file());
      if (i < shards.size() - 1) {
        assertEquals(16, shards.get(i).tokens());
      }
    }
    long expectedTokens = DOCS.stream().filter(d -> !d.isEmpty())
        .mapToLong(d -> Tokenizers.byName("bytes").encode(d).length + 1).sum();
    assertEquals(expectedTokens, m.totalTokens());
    assertEquals((expectedTokens + 15) / 16, shards.size());
    assertEquals(m, Manifest.read(dir.resolve(Manifest.FILE_NAME)));
  }

  @Test
  void rerunningAPartitionRewritesTheSameFiles() throws IOException {
    Tokenizer t = Tokenizers.byName("bytes");
    List<ShardInfo> first = CorpusPacker.packPartition(DOCS.iterator(), t, dir, 20, "part-00003");
    byte[] firstBytes = Files.readAllBytes(dir.resolve(first.get(0).file()));
    List<ShardInfo> second = CorpusPacker.packPartition(DOCS.iterator(), t, dir, 20, "part-00003");
    assertEquals(first, second);
    assertArrayEquals(firstBytes, Files.readAllBytes(dir.resolve(second.get(0).file())));
    assertEquals("part-00003-00000.arrow", first.get(0).file());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(first.size(), files.count(), "only shards, no temporary files");
    }
    // The driver's half: one manifest over every partition's shards.
    List<ShardInfo> other = CorpusPacker.packPartition(List.of("x").iterator(), t, dir, 20,
        "part-00004");
    List<ShardInfo> all = new ArrayList<>(first);
    all.addAll(other);
    CorpusPacker.writeManifest(dir, t, all);
    try (Dataset d = Dataset.open(dir)) {
      assertEquals(first.size() + 1, d.shardCount());
      assertEquals(5, d.totalDocuments());
    }
  }

  @Test
  void emptyPartitionWritesNothing() throws IOException {
    List<ShardInfo> none = CorpusPacker.packPartition(List.of("", "").iterator(),
        Tokenizers.byName("bytes"), dir, 20, "part-00000");
    assertEquals(List.of(), none);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CorpusPacker.pack(List.of("").iterator(), Tokenizers.byName("bytes"), dir, 20));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
  }

  @Test
  void rejectsBadArgumentsNamingThem() {
    Tokenizer t = Tokenizers.byName("bytes");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> CorpusPacker.pack(DOCS.iterator(), t, dir, 0));
    assertTrue(e.getMessage().contains("maxTokensPerShard"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> CorpusPacker.pack(DOCS.iterator(), t, dir, 2_000_000_000L));
    assertTrue(e.getMessage().contains("2000000000"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> CorpusPacker.packPartition(DOCS.iterator(), t, dir, 10, "../up"));
    assertTrue(e.getMessage().contains("../up"), e.getMessage());
    List<String> withNull = new ArrayList<>(List.of("a"));
    withNull.add(null);
    e = assertThrows(IllegalArgumentException.class,
        () -> CorpusPacker.pack(withNull.iterator(), t, dir, 10));
    assertTrue(e.getMessage().contains("document 1"), e.getMessage());
  }

  /** Every token of the dataset in {@code dir}, in order. */
  static int[] readAll(Path dir) throws IOException {
    try (Dataset d = Dataset.open(dir)) {
      int[] all = new int[(int) d.totalTokens()];
      int at = 0;
      for (int s = 0; s < d.shardCount(); s++) {
        int n = (int) d.shard(s).tokens();
        d.shard(s).read(0, all, at, n);
        at += n;
      }
      return all;
    }
  }
}
