package io.mobaspark.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mobaspark.data.shard.Manifest;
import io.mobaspark.data.tokenizer.Tokenizer;
import io.mobaspark.data.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Project Gutenberg books under data/corpus: intact, and packable into a trainable dataset. */
class CommittedCorpusTest {
  /** Surefire runs in the module folder. */
  private static final Path CORPUS = Path.of("corpus");

  @TempDir Path out;

  @Test
  void filesMatchTheirListedChecksums() throws IOException, NoSuchAlgorithmException {
    List<String> lines = Files.readAllLines(CORPUS.resolve("SHA256SUMS"));
    List<Path> books = CorpusFiles.textFiles(CORPUS.resolve("gutenberg"));
    assertEquals(books.size(), lines.size(), "SHA256SUMS lists every book");
    for (String line : lines) {
      String[] hashAndName = line.split(" {2}");
      byte[] bytes = Files.readAllBytes(CORPUS.resolve(hashAndName[1]));
      String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
      assertEquals(hashAndName[0], actual, hashAndName[1]);
      String text = new String(bytes, StandardCharsets.UTF_8);
      assertTrue(!text.contains("\r"), hashAndName[1] + " has CR line ends");
    }
  }

  @Test
  void packsWithTheByteTokenizerIntoATrainableDataset() throws IOException {
    Tokenizer bytes = Tokenizers.byName("bytes");
    List<Path> books = CorpusFiles.textFiles(CORPUS.resolve("gutenberg"));
    long utf8Bytes = 0;
    for (Path book : books) {
      utf8Bytes += Files.size(book);
    }
    Manifest m = CorpusPacker.pack(CorpusFiles.documents(books), bytes, out, 256 * 1024);
    assertEquals(books.size(), m.totalDocuments());
    assertEquals(utf8Bytes + books.size(), m.totalTokens());
    assertTrue(m.shards().size() >= 4, m.shards().size() + " shards");
    try (Dataset d = Dataset.open(out)) {
      WindowSampler rank1 = new WindowSampler(d, 257, 8, 1234, 1, 2);
      int[] batch = rank1.next();
      assertEquals(8 * 257, batch.length);
      String text = bytes.decode(Arrays.copyOf(batch, 257));
      assertTrue(text.chars().anyMatch(Character::isLetter), text);
    }
  }
}
